import { describe, expect, it } from "vitest";
import { z } from "zod";
import { BankError, httpStatusOf } from "@/lib/errors";
import { readJsonBody } from "@/lib/http/read-json-body";
import { strictObject, text } from "@/lib/validation/fields";

const schema = strictObject({ nickname: text({ min: 1, max: 20 }) });

function jsonRequest(body: BodyInit | null, headers: Record<string, string> = {}): Request {
  return new Request("https://bank.example/api/v1/test", {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body,
  });
}

/** A body sent in chunks without Content-Length, as chunked transfer encoding would deliver it. */
function streamedRequest(chunks: string[], onPull?: () => void): Request {
  const encoder = new TextEncoder();
  let index = 0;
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      onPull?.();
      const chunk = chunks[index];
      index += 1;
      if (chunk === undefined) controller.close();
      else controller.enqueue(encoder.encode(chunk));
    },
  });
  return new Request("https://bank.example/api/v1/test", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: stream,
    duplex: "half",
  } as RequestInit & { duplex: "half" });
}

async function failureOf(promise: Promise<unknown>): Promise<BankError> {
  const error: unknown = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  if (!(error instanceof BankError)) throw new Error(`expected a BankError, got ${String(error)}`);
  return error;
}

describe("readJsonBody", () => {
  it("parses and validates a JSON body", async () => {
    await expect(readJsonBody(jsonRequest(JSON.stringify({ nickname: "  Rainy day " })), schema)).resolves.toEqual({
      nickname: "Rainy day",
    });
  });

  it("accepts a UTF-8 charset parameter and any letter case", async () => {
    const request = jsonRequest('{"nickname":"Caf\u00e9"}', { "content-type": "Application/JSON; charset=UTF-8" });
    await expect(readJsonBody(request, schema)).resolves.toEqual({ nickname: "Caf\u00e9" });
  });

  it.each([
    { name: "no content type", headers: { "content-type": "" } },
    { name: "a form", headers: { "content-type": "application/x-www-form-urlencoded" } },
    { name: "text", headers: { "content-type": "text/plain" } },
    { name: "a JSON look-alike", headers: { "content-type": "application/jsonp" } },
    { name: "another charset", headers: { "content-type": "application/json; charset=utf-16" } },
  ])("refuses $name with unsupported_media_type (415)", async ({ headers }) => {
    const error = await failureOf(readJsonBody(jsonRequest('{"nickname":"a"}', headers), schema));
    expect(error.code).toBe("unsupported_media_type");
    expect(httpStatusOf[error.code]).toBe(415);
  });

  it("refuses a body whose Content-Length is over the limit without reading it", async () => {
    const request = jsonRequest('{"nickname":"a"}', { "content-length": "20000" });
    const error = await failureOf(readJsonBody(request, schema));
    expect(error.code).toBe("payload_too_large");
    expect(httpStatusOf[error.code]).toBe(413);
    expect(request.bodyUsed).toBe(false);
  });

  it("counts while reading when Content-Length is absent or lies", async () => {
    const big = JSON.stringify({ nickname: "a".repeat(100) });
    const error = await failureOf(readJsonBody(streamedRequest([big.slice(0, 60), big.slice(60)]), schema, { maxBytes: 64 }));
    expect(error.code).toBe("payload_too_large");

    const lying = jsonRequest(big, { "content-length": "10" });
    expect((await failureOf(readJsonBody(lying, schema, { maxBytes: 64 }))).code).toBe("payload_too_large");
  });

  it("stops reading at the first chunk past the limit", async () => {
    let pulled = 0;
    const chunks = Array.from({ length: 100 }, () => "x".repeat(1024));
    const error = await failureOf(
      readJsonBody(
        streamedRequest(chunks, () => {
          pulled += 1;
        }),
        schema,
        { maxBytes: 4096 },
      ),
    );
    expect(error.code).toBe("payload_too_large");
    expect(pulled).toBeLessThan(10);
  });

  it("accepts a body exactly at the limit", async () => {
    const body = JSON.stringify({ nickname: "abc" });
    await expect(readJsonBody(jsonRequest(body), schema, { maxBytes: new TextEncoder().encode(body).byteLength })).resolves.toEqual({
      nickname: "abc",
    });
  });

  it.each([
    { name: "an empty body", body: "" },
    { name: "truncated JSON", body: '{"nickname":' },
    { name: "not JSON at all", body: "nickname=a" },
    { name: "JSON with a trailing comma", body: '{"nickname":"a",}' },
  ])("answers $name with a clean invalid_input (422)", async ({ body }) => {
    const error = await failureOf(readJsonBody(jsonRequest(body), schema));
    expect(error.code).toBe("invalid_input");
    expect(httpStatusOf[error.code]).toBe(422);
    expect(error.userMessage).toBe("The request body is not valid JSON.");
    expect(error.fieldErrors).toBeUndefined();
  });

  it("refuses invalid UTF-8 instead of guessing", async () => {
    const bytes = new Uint8Array([0x7b, 0x22, 0x6e, 0x22, 0x3a, 0x22, 0xff, 0x22, 0x7d]);
    const error = await failureOf(readJsonBody(jsonRequest(bytes), schema));
    expect(error.userMessage).toBe("The request body is not valid JSON.");
  });

  it("answers a body that fails the schema with field errors", async () => {
    const error = await failureOf(readJsonBody(jsonRequest(JSON.stringify({ nickname: "   " })), schema));
    expect(error.code).toBe("invalid_input");
    expect(error.fieldErrors).toEqual({ nickname: ["Enter a value."] });
  });

  it("refuses unknown fields and bodies of the wrong shape", async () => {
    const unknown = await failureOf(readJsonBody(jsonRequest(JSON.stringify({ nickname: "a", role: "admin" })), schema));
    expect(unknown.code).toBe("invalid_input");
    expect(unknown.userMessage).toBe("The form contains fields we do not accept.");

    const array = await failureOf(readJsonBody(jsonRequest("[]"), schema));
    expect(array.code).toBe("invalid_input");
  });

  it("does not let __proto__ in the body reach the result", async () => {
    const loose = z.object({ nickname: z.string() });
    const result = await readJsonBody(jsonRequest('{"nickname":"a","__proto__":{"admin":true}}'), loose);
    expect(result).toEqual({ nickname: "a" });
    expect((result as Record<string, unknown>).admin).toBeUndefined();
    expect(({} as Record<string, unknown>).admin).toBeUndefined();
  });
});
