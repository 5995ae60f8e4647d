import { decode, encode } from "next-auth/jwt";
import { describe, expect, it } from "vitest";
import { sessionCookieName } from "@/lib/auth/cookie-names";
import { isPrefetchRequest, isSessionStatusPoll, markPrefetchRequest } from "@/lib/auth/request-purpose";
import { countsAsSessionActivity, renewSessionToken } from "@/lib/auth/session-cookie-renewal";
import { sanitiseIncomingHeaders } from "@/lib/security/internal-headers";

const secret = "s".repeat(48);
const sessionId = "0b7f8f1e-3c1a-4d7e-9a55-5d2b0c6e7f10";
const userId = "9d3c2b1a-7e6f-4a5b-8c9d-0e1f2a3b4c5d";

function headersOf(entries: Record<string, string>): Headers {
  return new Headers(entries);
}

describe("isPrefetchRequest", () => {
  it.each<{ name: string; headers: Record<string, string> }>([
    { name: "Next's router prefetch", headers: { "next-router-prefetch": "1" } },
    { name: "a segment prefetch", headers: { "next-router-segment-prefetch": "/_tree" } },
    { name: "Sec-Purpose: prefetch", headers: { "sec-purpose": "prefetch" } },
    { name: "Sec-Purpose: prefetch;prerender", headers: { "sec-purpose": "prefetch;prerender" } },
    { name: "the older Purpose: prefetch", headers: { purpose: "prefetch" } },
  ])("recognises $name", ({ headers }) => {
    expect(isPrefetchRequest(headersOf(headers))).toBe(true);
  });

  it.each<{ name: string; headers: Record<string, string> }>([
    { name: "a page request", headers: { accept: "text/html" } },
    { name: "a client-side navigation", headers: { rsc: "1", "next-router-state-tree": "%5B%5D" } },
    { name: "a server action", headers: { "next-action": "abc" } },
    { name: "a purpose that is not prefetch", headers: { "sec-purpose": "prerender-but-not-pre-fetch" } },
  ])("does not mistake $name for one", ({ headers }) => {
    expect(isPrefetchRequest(headersOf(headers))).toBe(false);
  });
});

describe("markPrefetchRequest (server.ts, before Next hides its router's headers from proxy.ts)", () => {
  it("marks a router prefetch, and the proxy's check then sees it without the router's headers", () => {
    const headers: Record<string, string | string[] | undefined> = { "next-router-prefetch": "1", rsc: "1" };
    sanitiseIncomingHeaders(headers);
    markPrefetchRequest(headers);
    expect(headers["x-bank-prefetch"]).toBe("1");
    expect(isPrefetchRequest(headersOf({ "x-bank-prefetch": "1" }))).toBe(true);
    expect(countsAsSessionActivity("GET", "/security", headersOf({ "x-bank-prefetch": "1" }))).toBe(false);
  });

  it("does not let a client send the mark itself, and leaves real requests unmarked", () => {
    const headers: Record<string, string | string[] | undefined> = { "x-bank-prefetch": "0", rsc: "1" };
    sanitiseIncomingHeaders(headers);
    markPrefetchRequest(headers);
    expect(headers["x-bank-prefetch"]).toBeUndefined();
  });
});

describe("countsAsSessionActivity", () => {
  it.each([
    ["GET", "/"],
    ["GET", "/security"],
    ["POST", "/security"],
    ["GET", "/api/v1/accounts"],
    ["POST", "/api/session/keep-alive"],
  ])("counts %s %s", (method, pathname) => {
    expect(countsAsSessionActivity(method, pathname, headersOf({}))).toBe(true);
  });

  it.each([
    ["GET", "/api/session", "the timeout dialog's poll"],
    ["GET", "/login", "the sign-in page, where Auth.js sets the cookie"],
    ["POST", "/login", "the sign-in action"],
    ["POST", "/logout", "sign-out, which expires the cookie"],
    ["GET", "/api/auth/session", "Auth.js's own endpoints"],
    ["POST", "/api/auth/callback/credentials", "Auth.js's sign-in"],
    ["GET", "/api/health", "the health check"],
    ["POST", "/api/csp-report", "CSP reports"],
  ])("does not count %s %s (%s)", (method, pathname) => {
    expect(countsAsSessionActivity(method, pathname, headersOf({}))).toBe(false);
  });

  it("does not count a prefetch of a customer page", () => {
    expect(countsAsSessionActivity("GET", "/security", headersOf({ "next-router-prefetch": "1" }))).toBe(false);
  });
});

describe("isSessionStatusPoll", () => {
  it("is the GET of /api/session only", () => {
    expect(isSessionStatusPoll("GET", "/api/session")).toBe(true);
    expect(isSessionStatusPoll("POST", "/api/session")).toBe(false);
    expect(isSessionStatusPoll("POST", "/api/session/keep-alive")).toBe(false);
  });
});

describe("renewSessionToken", () => {
  it("re-encrypts exactly the two ids with a fresh expiry that Auth.js's decode accepts", async () => {
    const issued = await encode({ token: { sub: userId, sid: sessionId }, secret, salt: sessionCookieName, maxAge: 60 });
    const renewed = await renewSessionToken(issued, secret, 900);
    expect(renewed).not.toBeNull();
    expect(renewed).not.toBe(issued);
    const payload = await decode({ token: renewed ?? "", secret, salt: sessionCookieName });
    expect(payload?.sub).toBe(userId);
    expect(payload?.sid).toBe(sessionId);
    expect(Object.keys(payload ?? {}).sort()).toEqual(["exp", "iat", "jti", "sid", "sub"]);
    const nowSeconds = Math.floor(Date.now() / 1000);
    expect(payload?.exp).toBeGreaterThanOrEqual(nowSeconds + 899);
    expect(payload?.exp).toBeLessThanOrEqual(nowSeconds + 901);
  });

  it("drops anything else a token carries", async () => {
    const issued = await encode({
      token: { sub: userId, sid: sessionId, role: "admin", email: "x@example.com" },
      secret,
      salt: sessionCookieName,
    });
    const payload = await decode({ token: (await renewSessionToken(issued, secret, 900)) ?? "", secret, salt: sessionCookieName });
    expect(payload?.role).toBeUndefined();
    expect(payload?.email).toBeUndefined();
  });

  it("renews nothing that does not decrypt with our secret and our cookie's salt", async () => {
    const foreign = await encode({ token: { sub: userId, sid: sessionId }, secret: "f".repeat(48), salt: sessionCookieName });
    const otherSalt = await encode({ token: { sub: userId, sid: sessionId }, secret, salt: "authjs.session-token" });
    const unsecured = `${Buffer.from(JSON.stringify({ alg: "none" })).toString("base64url")}.${Buffer.from(
      JSON.stringify({ sub: userId, sid: sessionId }),
    ).toString("base64url")}.`;
    const valid = await encode({ token: { sub: userId, sid: sessionId }, secret, salt: sessionCookieName });
    const [header, key, iv, ciphertext, tag] = valid.split(".");
    const tampered = [header, key, iv, `${ciphertext?.slice(0, -2)}AA`, tag].join(".");
    for (const token of [foreign, otherSalt, unsecured, tampered, "garbage", ""]) {
      expect(await renewSessionToken(token, secret, 900)).toBeNull();
    }
  });

  it("renews no expired token and no token without both ids", async () => {
    const expired = await encode({ token: { sub: userId, sid: sessionId }, secret, salt: sessionCookieName, maxAge: -60 });
    const withoutSessionId = await encode({ token: { sub: userId }, secret, salt: sessionCookieName });
    expect(await renewSessionToken(expired, secret, 900)).toBeNull();
    expect(await renewSessionToken(withoutSessionId, secret, 900)).toBeNull();
  });
});
