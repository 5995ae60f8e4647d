import { beforeEach, describe, expect, it, vi } from "vitest";

// The route's collaborators are replaced: this file checks the route's own decisions (origin, status,
// headers, audit), while the real cookie expiry is checked against the built app.
const mocks = vi.hoisted(() => ({
  signOut: vi.fn<(options: { redirect: false }) => Promise<unknown>>(),
  resolveSessionWithoutActivity: vi.fn<() => Promise<unknown>>(),
  sessionTokenIdentity: vi.fn<() => Promise<unknown>>(),
  revokeSession: vi.fn<(queryable: unknown, sessionId: string, reason: string) => Promise<boolean>>(),
  recordAuditEvent: vi.fn<(queryable: unknown, event: unknown) => Promise<void>>(),
  cookieSet: vi.fn(),
  cookieNames: [] as string[],
}));

vi.mock("@/lib/auth/auth", () => ({
  signOut: mocks.signOut,
  sessionCookieName: "__Secure-authjs.session-token",
  authCookies: { sessionToken: { options: { httpOnly: true, secure: true, sameSite: "lax", path: "/" } } },
}));
vi.mock("@/lib/auth/session", () => ({
  resolveSessionWithoutActivity: mocks.resolveSessionWithoutActivity,
  sessionTokenIdentity: mocks.sessionTokenIdentity,
}));
vi.mock("@/lib/auth/sessions", () => ({ revokeSession: mocks.revokeSession }));
vi.mock("@/lib/audit/record-audit-event", () => ({ recordAuditEvent: mocks.recordAuditEvent }));
vi.mock("@/db/client", () => ({ database: () => "database" }));
vi.mock("@/lib/env", () => ({ env: () => ({ appOrigin: "https://bank.example" }) }));
vi.mock("@/lib/logger", () => ({ logger: { error: vi.fn(), warn: vi.fn(), info: vi.fn() } }));
vi.mock("next/headers", () => ({
  cookies: async () => ({ getAll: () => mocks.cookieNames.map((name) => ({ name, value: "x" })), set: mocks.cookieSet }),
}));

const route = await import("@/app/(auth)/logout/route");

function post(headers: Record<string, string>): Request {
  return new Request("https://bank.example/logout", { method: "POST", headers });
}

const sessionId = "5f0c1a52-8d1b-4a61-9b7e-2f7f3d0c9a11";
const alice = { kind: "customer", userId: "user-1", role: "customer", sessionId, ipAddress: "203.0.113.7", userAgent: "test" };

beforeEach(() => {
  vi.clearAllMocks();
  mocks.cookieNames = [];
  mocks.signOut.mockResolvedValue({ redirect: "https://bank.example/" });
  mocks.resolveSessionWithoutActivity.mockResolvedValue({ actor: alice });
  mocks.sessionTokenIdentity.mockResolvedValue({ sessionId, userId: "user-1" });
  mocks.revokeSession.mockResolvedValue(true);
  mocks.recordAuditEvent.mockResolvedValue(undefined);
});

describe("POST /logout", () => {
  it.each<{ name: string; headers: Record<string, string> }>([
    { name: "no Origin", headers: {} },
    { name: "a foreign Origin", headers: { origin: "https://evil.example" } },
    { name: "a cross-site fetch", headers: { origin: "https://bank.example", "sec-fetch-site": "cross-site" } },
  ])("refuses $name with a 403 problem and signs nobody out", async ({ headers }) => {
    const response = await route.POST(post(headers));
    expect(response.status).toBe(403);
    expect(response.headers.get("content-type")).toContain("application/problem+json");
    expect(response.headers.get("clear-site-data")).toBeNull();
    expect(mocks.signOut).not.toHaveBeenCalled();
    expect(mocks.revokeSession).not.toHaveBeenCalled();
    expect(mocks.recordAuditEvent).not.toHaveBeenCalled();
  });

  it("signs out, audits and sends the browser to sign-in with Clear-Site-Data", async () => {
    const response = await route.POST(post({ origin: "https://bank.example", "sec-fetch-site": "same-origin" }));
    expect(response.status).toBe(303);
    expect(response.headers.get("location")).toBe("https://bank.example/login");
    expect(response.headers.get("clear-site-data")).toBe('"cache", "cookies", "storage"');
    expect(response.headers.get("cache-control")).toBe("no-store");
    expect(mocks.signOut).toHaveBeenCalledWith({ redirect: false });
    expect(mocks.revokeSession).toHaveBeenCalledWith("database", sessionId, "sign_out");
    expect(mocks.recordAuditEvent).toHaveBeenCalledWith("database", {
      actorId: "user-1",
      actorRole: "customer",
      action: "auth.sign_out",
      targetType: "user",
      targetId: "user-1",
      ipAddress: "203.0.113.7",
      userAgent: "test",
    });
  });

  it("writes no audit event and revokes nothing when nobody was signed in", async () => {
    mocks.resolveSessionWithoutActivity.mockResolvedValue(null);
    mocks.sessionTokenIdentity.mockResolvedValue(null);
    const response = await route.POST(post({ origin: "https://bank.example" }));
    expect(response.status).toBe(303);
    expect(mocks.signOut).toHaveBeenCalled();
    expect(mocks.revokeSession).not.toHaveBeenCalled();
    expect(mocks.recordAuditEvent).not.toHaveBeenCalled();
  });

  it("revokes the record named by the token even when the session has already ended", async () => {
    mocks.resolveSessionWithoutActivity.mockResolvedValue(null);
    const response = await route.POST(post({ origin: "https://bank.example" }));
    expect(response.status).toBe(303);
    expect(mocks.revokeSession).toHaveBeenCalledWith("database", sessionId, "sign_out");
    expect(mocks.recordAuditEvent).not.toHaveBeenCalled();
  });

  it("still signs out when the database cannot resolve the actor, revoke the record or write the event", async () => {
    mocks.resolveSessionWithoutActivity.mockRejectedValueOnce(new Error("database down"));
    expect((await route.POST(post({ origin: "https://bank.example" }))).status).toBe(303);
    expect(mocks.signOut).toHaveBeenCalledTimes(1);

    mocks.revokeSession.mockRejectedValueOnce(new Error("database down"));
    expect((await route.POST(post({ origin: "https://bank.example" }))).status).toBe(303);
    expect(mocks.signOut).toHaveBeenCalledTimes(2);

    mocks.recordAuditEvent.mockRejectedValueOnce(new Error("database down"));
    expect((await route.POST(post({ origin: "https://bank.example" }))).status).toBe(303);
    expect(mocks.signOut).toHaveBeenCalledTimes(3);
  });

  it("expires every session cookie chunk itself with Secure attributes when Auth.js fails", async () => {
    mocks.signOut.mockRejectedValue(new Error("auth failed"));
    mocks.cookieNames = ["__Secure-authjs.session-token.0", "__Secure-authjs.session-token.1", "other"];
    const response = await route.POST(post({ origin: "https://bank.example" }));
    expect(response.status).toBe(303);
    expect(mocks.cookieSet.mock.calls.map(([name]) => name as string)).toEqual([
      "__Secure-authjs.session-token.0",
      "__Secure-authjs.session-token.1",
    ]);
    expect(mocks.cookieSet).toHaveBeenCalledWith(
      "__Secure-authjs.session-token.0",
      "",
      expect.objectContaining({ secure: true, httpOnly: true, maxAge: 0, path: "/" }),
    );
  });
});

describe("other methods on /logout", () => {
  it.each(["GET", "PUT", "PATCH", "DELETE", "OPTIONS"] as const)("answer %s with a 404 problem", async (method) => {
    const response = route[method]();
    expect(response.status).toBe(404);
    expect((await response.json()) as unknown).toMatchObject({ code: "not_found", status: 404 });
    expect(mocks.signOut).not.toHaveBeenCalled();
  });
});
