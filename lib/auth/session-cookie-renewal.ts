import { decode, encode, type JWT } from "next-auth/jwt";
import { sessionCookieName } from "@/lib/auth/cookie-names";
import { isPrefetchRequest, isSessionStatusPoll, keepAlivePath } from "@/lib/auth/request-purpose";

/**
 * The outer bound of a session is its cookie: Auth.js gives the cookie (and the token's `exp`) a lifetime of
 * the idle limit, and re-issues it only when Auth.js itself answers a request. Server components cannot set
 * cookies, so without help the cookie of an active customer would die one idle period after sign-in. proxy.ts
 * therefore re-issues it on every request that counts as activity, with a fresh lifetime, exactly as Auth.js
 * would: same name, same attributes, same encryption (the secret with the cookie name as salt).
 *
 * This is only the outer bound. Whether the session stands is decided by the session record on every request
 * (lib/auth/session.ts); the proxy reads no database and grants nothing. No `server-only`: proxy.ts imports it.
 */

// Paths where Auth.js or the sign-in and sign-out code write the session cookie themselves. Writing it here too
// would race them: re-issuing the OLD token in the same response as a fresh sign-in, or after a sign-out.
const pathsThatManageTheCookie = ["/login", "/logout", "/register", "/forgot-password", "/reset-password", "/api/auth"];
// Under /api, only the customer API and the dialog's "Stay signed in" are the customer's own activity.
const activityApiPrefixes = ["/api/v1", keepAlivePath];

function matchesPrefix(pathname: string, prefix: string): boolean {
  return pathname === prefix || pathname.startsWith(`${prefix}/`);
}

/** Whether this request should carry a renewed session cookie in its answer (before looking at the cookie). */
export function countsAsSessionActivity(method: string, pathname: string, requestHeaders: Headers): boolean {
  if (isPrefetchRequest(requestHeaders) || isSessionStatusPoll(method, pathname)) return false;
  if (pathsThatManageTheCookie.some((prefix) => matchesPrefix(pathname, prefix))) return false;
  if (matchesPrefix(pathname, "/api")) return activityApiPrefixes.some((prefix) => matchesPrefix(pathname, prefix));
  return true;
}

/**
 * The token re-encrypted with a fresh `exp`, or null when it does not decrypt (tampered, foreign secret,
 * `alg: none`, expired) or does not carry both ids: a bad cookie is left for the page to refuse, never renewed.
 * Only `sub` and `sid` are carried over, as the Auth.js `jwt` callback does.
 */
export async function renewSessionToken(token: string, secret: string, maxAgeSeconds: number): Promise<string | null> {
  let payload: JWT | null;
  try {
    payload = await decode({ token, secret, salt: sessionCookieName });
  } catch {
    // decode() throws for every kind of bad token; none of them is renewed.
    return null;
  }
  if (!payload || typeof payload.sub !== "string" || typeof payload.sid !== "string") return null;
  return encode({ token: { sub: payload.sub, sid: payload.sid }, secret, salt: sessionCookieName, maxAge: maxAgeSeconds });
}
