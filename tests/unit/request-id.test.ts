import { Writable } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { currentRequestId, isWellFormedRequestId, resolveRequestId, runWithRequestId } from "@/lib/http/request-id";
import { createLogger } from "@/lib/logger";

const trustedProxies = ["10.0.0.0/8", "127.0.0.3"];
const generated = "generated-by-this-server";
const generate = () => generated;

describe("resolveRequestId", () => {
  it("keeps a well-formed id from a trusted proxy", () => {
    const nginxStyle = "3f1c9a7e0b2d4c6e8f0a1b2c3d4e5f60";
    expect(resolveRequestId({ socketAddress: "10.1.2.3", headerValue: nginxStyle, trustedProxies, generate })).toBe(nginxStyle);
    expect(resolveRequestId({ socketAddress: "::ffff:127.0.0.3", headerValue: "abc_DEF-123", trustedProxies, generate })).toBe(
      "abc_DEF-123",
    );
  });

  it("ignores any id sent by a peer that is not a trusted proxy", () => {
    expect(resolveRequestId({ socketAddress: "203.0.113.9", headerValue: "planted-id", trustedProxies, generate })).toBe(generated);
    expect(resolveRequestId({ socketAddress: "10.0.0.1", headerValue: "planted-id", trustedProxies: [], generate })).toBe(generated);
    expect(resolveRequestId({ socketAddress: undefined, headerValue: "planted-id", trustedProxies, generate })).toBe(generated);
  });

  it.each([
    ["too long", "a".repeat(65)],
    ["empty", ""],
    ["a space", "abc def"],
    ["a line break", "abc\r\nx-injected: 1"],
    ["a quote", 'abc"def'],
    ["a dot", "abc.def"],
    ["non-ASCII", "abcé"],
  ])("replaces an id with %s even from a trusted proxy", (_description, value) => {
    expect(resolveRequestId({ socketAddress: "10.1.2.3", headerValue: value, trustedProxies, generate })).toBe(generated);
  });

  it("replaces repeated ids from a trusted proxy (which one would be meant is unclear)", () => {
    expect(resolveRequestId({ socketAddress: "10.1.2.3", headerValue: ["one", "two"], trustedProxies, generate })).toBe(generated);
  });

  it("generates a UUID by default, which is itself well formed", () => {
    const id = resolveRequestId({ socketAddress: "203.0.113.9", headerValue: undefined, trustedProxies });
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(isWellFormedRequestId(id)).toBe(true);
    expect(isWellFormedRequestId("a".repeat(64))).toBe(true);
  });
});

/** A logger whose lines are collected, parsed, in `lines`. */
function capturingLogger() {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString("utf8").split("\n")) if (line.trim() !== "") lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { log: createLogger(destination), lines, raw: () => JSON.stringify(lines) };
}

describe("log lines and the request id", () => {
  it("carry the id of the request they were written for, also after awaits and timers", async () => {
    const { log, lines } = capturingLogger();
    await runWithRequestId("request-one", async () => {
      log.info("at the start");
      await sleep(5);
      await new Promise<void>((resolve) => setTimeout(() => { log.warn({ step: 2 }, "in a timer"); resolve(); }, 1));
    });
    expect(lines.map((line) => line.requestId)).toEqual(["request-one", "request-one"]);
  });

  it("keep two concurrent requests apart, and carry no id outside a request", async () => {
    const { log, lines } = capturingLogger();
    await Promise.all(
      ["first", "second"].map((requestId, index) =>
        runWithRequestId(requestId, async () => {
          await sleep(index === 0 ? 10 : 1);
          log.info({ which: requestId }, "done");
        }),
      ),
    );
    log.info("outside");
    expect(lines.map((line) => [line.which, line.requestId])).toEqual([
      ["second", "second"],
      ["first", "first"],
      [undefined, undefined],
    ]);
    expect(currentRequestId()).toBeUndefined();
  });
});

describe("log redaction", () => {
  it("hides passwords, second-factor codes and secrets, session tokens, cookies and authorization headers", () => {
    const { log, raw } = capturingLogger();
    const secrets = {
      password: "Pw-top-level-1",
      totpCode: "123456",
      recoveryCode: "ABCD-EFGH-IJKL",
      totpSecret: "JBSWY3DPEHPK3PXP",
      sessionToken: "eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2Q0JDLUhTNTEyIn0.session",
      token: "reset-token-0123456789",
      secret: "auth-secret-value",
    };
    log.info(secrets, "top level");
    log.info({ input: { password: "Pw-nested-2", newPassword: "Pw-nested-3", email: "someone@example.com" } }, "one level");
    log.info(
      {
        req: {
          headers: {
            cookie: "__Secure-authjs.session-token=abc.def.ghi",
            authorization: "Bearer api-token-xyz",
            "set-cookie": "__Host-sign-in-ticket=ticket-value",
          },
        },
        headers: { cookie: "cookie-one-level", authorization: "Basic dXNlcjpwYXNz" },
      },
      "headers",
    );
    const written = raw();
    for (const value of [
      ...Object.values(secrets),
      "Pw-nested-2",
      "Pw-nested-3",
      "someone@example.com",
      "abc.def.ghi",
      "api-token-xyz",
      "ticket-value",
      "cookie-one-level",
      "dXNlcjpwYXNz",
    ]) {
      expect(written).not.toContain(value);
    }
    expect(written).toContain("[redacted]");
  });

  it("keeps error codes, which are not secrets", () => {
    const { log, lines } = capturingLogger();
    log.error({ code: "rate_limited", err: { code: "40001" } }, "failed");
    expect(lines[0]).toMatchObject({ code: "rate_limited", err: { code: "40001" } });
  });
});
