/**
 * A signed-in session for tests and benchmarks that drive the running app over HTTP without a browser: the
 * same server-side session record that a completed two-step sign-in creates, and the same encrypted cookie
 * Auth.js would set for it (the secret with the cookie name as salt, lib/auth/session-cookie-renewal.ts).
 * The second factor counts as just completed, like a real sign-in. Only the caller's own database is touched.
 */
import { encode } from "next-auth/jwt";
import type { Queryable } from "@/db/client";
import { sessionCookieName } from "@/lib/auth/cookie-names";
import { createSession } from "@/lib/auth/sessions";

export interface MintedSession {
  sessionId: string;
  /** The value for a `Cookie` request header. */
  cookieHeader: string;
}

export async function mintSessionCookie(
  queryable: Queryable,
  options: { userId: string; authSecret: string; idleTimeoutSeconds?: number },
): Promise<MintedSession> {
  const sessionId = await createSession(queryable, {
    userId: options.userId,
    ipAddress: "127.0.0.1",
    userAgent: "harbour-bank-test-client",
    showLockNotice: false,
    secondFactorAt: new Date(),
  });
  const token = await encode({
    token: { sub: options.userId, sid: sessionId },
    secret: options.authSecret,
    salt: sessionCookieName,
    maxAge: options.idleTimeoutSeconds ?? 900,
  });
  return { sessionId, cookieHeader: `${sessionCookieName}=${token}` };
}
