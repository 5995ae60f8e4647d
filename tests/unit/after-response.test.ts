import { describe, expect, it } from "vitest";
import { runAfterResponse } from "@/lib/after-response";

describe("runAfterResponse outside a request", () => {
  it("runs the work at once and waits for it", async () => {
    const done: string[] = [];
    await runAfterResponse("test work", async () => {
      await new Promise((resolve) => setTimeout(resolve, 5));
      done.push("ran");
    });
    expect(done).toEqual(["ran"]);
  });

  it("never passes a failure on to the caller, whose answer has already gone", async () => {
    await expect(
      runAfterResponse("failing work", async () => {
        throw new Error("database down");
      }),
    ).resolves.toBeUndefined();
  });
});
