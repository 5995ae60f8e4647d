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
  callbacks: { redirect: (parameters: { url: string; baseUrl: string }) => string };
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
