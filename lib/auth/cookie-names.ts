/**
 * The session cookie's name, shared by Auth.js's configuration, proxy.ts (which only checks that the cookie
 * is present) and the sign-out route. No `server-only`: proxy.ts imports it. `__Secure-` because the bank is
 * served only over HTTPS; Auth.js splits large tokens into `.0`, `.1`… chunks under the same name.
 */
export const sessionCookieName = "__Secure-authjs.session-token";

export function isSessionCookieName(name: string): boolean {
  return name === sessionCookieName || name.startsWith(`${sessionCookieName}.`);
}
