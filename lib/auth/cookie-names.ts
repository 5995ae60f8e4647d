/**
 * The session cookie's name and attributes, shared by Auth.js's configuration, proxy.ts (which checks that the
 * cookie is present and re-issues it on activity) and the sign-out route. No `server-only`: proxy.ts imports
 * it. `__Secure-` because the bank is served only over HTTPS; Auth.js splits large tokens into `.0`, `.1`…
 * chunks under the same name (ours, holding two ids, never come near that size).
 */
export const sessionCookieName = "__Secure-authjs.session-token";

/**
 * Every cookie of the bank is HttpOnly (no script reads it), Secure, path "/" and SameSite=Lax (sent on
 * top-level navigation to the bank, never on cross-site subresource requests or cross-site POSTs), without a
 * Domain attribute (host-only). proxy.ts sets the session cookie with exactly these attributes when it
 * re-issues it, so that the two writers can never leave a browser with two different cookies.
 */
export const secureCookieOptions = { httpOnly: true, secure: true, sameSite: "lax", path: "/" } as const;

export function isSessionCookieName(name: string): boolean {
  return name === sessionCookieName || name.startsWith(`${sessionCookieName}.`);
}
