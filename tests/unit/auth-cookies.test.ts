import { describe, expect, it, vi } from "vitest";

// next-auth does not load outside Next's bundler, so NextAuth is replaced by a stub that hands back the
// configuration factory: the test then checks the configuration lib/auth/auth.ts really gives Auth.js.
const captured = vi.hoisted(() => ({ factory: undefined as undefined | (() => unknown) }));

vi.mock("next-auth", () => ({
  default: (factory: () => unknown) => {
    captured.factory = factory;
    return { handlers: {}, auth: vi.fn(), signIn: vi.fn(), signOut: vi.fn() };
  },
  CredentialsSignin: class CredentialsSignin extends Error {},
}));
vi.mock("next-auth/providers/credentials", () => ({ default: (options: unknown) => options }));
vi.mock("@/lib/auth/authenticate-with-password", () => ({ authenticateWithPassword: vi.fn() }));
vi.mock("@/lib/env", () => ({
  env: () => ({
    appOrigin: "https://bank.example",
    authSecret: "x".repeat(48),
    sessionIdleTimeoutSeconds: 900,
    sessionAbsoluteLifetimeSeconds: 28_800,
  }),
}));

const { authCookies, sessionCookieName } = await import("@/lib/auth/auth");

interface CookieSetting {
  name: string;
  options: Record<string, unknown>;
}
interface CapturedConfiguration {
  useSecureCookies: boolean;
  cookies: Record<string, CookieSetting>;
  callbacks: {
    redirect: (parameters: { url: string; baseUrl: string }) => string;
    jwt: (parameters: Record<string, unknown>) => Record<string, unknown> | null;
  };
}

function configuration(): CapturedConfiguration {
  if (!captured.factory) throw new Error("lib/auth/auth.ts did not call NextAuth");
  return captured.factory() as CapturedConfiguration;
}

describe("Auth.js cookies", () => {
  it("keeps the session cookie name that proxy.ts looks for", () => {
    expect(sessionCookieName).toBe("__Secure-authjs.session-token");
    expect(configuration().cookies.sessionToken?.name).toBe(sessionCookieName);
  });

  it("are pinned in the configuration, with secure cookies on", () => {
    expect(configuration().useSecureCookies).toBe(true);
    expect(configuration().cookies).toEqual(authCookies);
  });

  it("prefix the session and callback cookies __Secure- and the CSRF cookie __Host-", () => {
    const { cookies } = configuration();
    expect(cookies.sessionToken?.name).toBe("__Secure-authjs.session-token");
    expect(cookies.callbackUrl?.name).toBe("__Secure-authjs.callback-url");
    expect(cookies.csrfToken?.name).toBe("__Host-authjs.csrf-token");
  });

  it.each(Object.keys(authCookies))("make %s HttpOnly, Secure, SameSite=Lax on path / without a Domain", (key) => {
    const cookie = configuration().cookies[key];
    expect(cookie?.options).toEqual({ httpOnly: true, secure: true, sameSite: "lax", path: "/" });
  });
});

describe("Auth.js redirect callback", () => {
  const baseUrl = "https://bank.example";
  it.each([
    { url: "/accounts", expected: "https://bank.example/accounts" },
    { url: "https://bank.example/accounts?tab=1", expected: "https://bank.example/accounts?tab=1" },
    { url: "//evil.example", expected: "https://bank.example/" },
    { url: "https://evil.example/", expected: "https://bank.example/" },
    { url: "/%2F%2Fevil.example", expected: "https://bank.example/" },
  ])("sends $url to $expected", ({ url, expected }) => {
    expect(configuration().callbacks.redirect({ url, baseUrl })).toBe(expected);
  });
});

describe("Auth.js jwt callback", () => {
  const userId = "9d3c2b1a-7e6f-4a5b-8c9d-0e1f2a3b4c5d";
  const sessionId = "0b7f8f1e-3c1a-4d7e-9a55-5d2b0c6e7f10";
  const otherSessionId = "7a6b5c4d-3e2f-4a1b-9c8d-7e6f5a4b3c2d";
  const jwt = (parameters: Record<string, unknown>) => configuration().callbacks.jwt(parameters);

  it("puts only the user id and the session record's id into a fresh sign-in's token", () => {
    const token = jwt({
      token: { name: "Alice", email: "alice@example.com", sub: userId },
      user: { id: userId, sessionId, email: "alice@example.com" },
      trigger: "signIn",
    });
    expect(token).toEqual({ sub: userId, sid: sessionId });
  });

  it("copies nothing from an update a browser sent, and keeps the session id it had", () => {
    const token = jwt({
      token: { sub: userId, sid: sessionId, iat: 1, exp: 2, jti: "j" },
      trigger: "update",
      session: { user: { role: "admin", id: "someone-else" }, sessionId: otherSessionId, sid: otherSessionId, sub: "x" },
    });
    expect(token).toEqual({ sub: userId, sid: sessionId });
  });

  it("ends a token that lacks the session id (issued before session records existed)", () => {
    expect(jwt({ token: { sub: userId, authenticatedAtSeconds: 1 } })).toBeNull();
  });

  it("refuses a sign-in whose session id is not a record id", () => {
    expect(jwt({ token: { sub: userId }, user: { id: userId, sessionId: "not-a-uuid" }, trigger: "signIn" })).toBeNull();
  });
});
