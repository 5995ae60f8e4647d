import { describe, expect, it } from "vitest";
import * as catchAll from "@/app/api/[...path]/route";

const methods = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"] as const;

describe("the catch-all for unknown API routes", () => {
  it.each(methods)("answers %s with a 404 problem document", async (method) => {
    const response = catchAll[method]();
    expect(response.status).toBe(404);
    expect(response.headers.get("content-type")).toBe("application/problem+json; charset=utf-8");
    expect(response.headers.get("cache-control")).toBe("no-store");
    expect(await response.json()).toEqual({
      type: "about:blank",
      title: "We could not find that.",
      status: 404,
      code: "not_found",
    });
  });

  it("answers HEAD with the same status and headers and no body", async () => {
    const response = catchAll.HEAD();
    expect(response.status).toBe(404);
    expect(response.headers.get("content-type")).toBe("application/problem+json; charset=utf-8");
    expect(response.body).toBeNull();
  });
});
