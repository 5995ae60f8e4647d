import "server-only";
import crypto from "node:crypto";
import { cookies } from "next/headers";
import { signInTicketLifetimeSeconds } from "@/lib/auth/sign-in-tickets";

/**
 * The two cookies a browser holds between the password step and the second factor (lib/auth/sign-in-tickets.ts).
 *
 * The ticket token and the browser binding travel in separate cookies, and the database stores only a hash of
 * each: a ticket that leaks on its own (a log line, a screenshot of a URL, which is why neither is ever in a
 * URL) is useless without the binding. Both are `__Host-` (no subdomain can plant or overwrite them), HttpOnly
 * (no script reads them), Secure, and SameSite=Lax; they live no longer than the ticket itself, and are deleted
 * as soon as the sign-in completes or the ticket turns out to be dead.
 *
 * Neither is a session: proxy.ts and the session code look only at Auth.js's session cookie, so presenting a
 * ticket cookie anywhere else (a page, the API) is the same as presenting nothing.
 */
export const signInTicketCookieName = "__Host-bank-sign-in-ticket";
export const signInBindingCookieName = "__Host-bank-sign-in-binding";

const cookieOptions = {
  httpOnly: true,
  secure: true,
  sameSite: "lax",
  path: "/",
  maxAge: signInTicketLifetimeSeconds,
} as const;

/** A new random browser binding: 32 bytes, base64url, the shape the ticket store expects. */
export function newBrowserBinding(): string {
  return crypto.randomBytes(32).toString("base64url");
}

/** Gives this browser a ticket and its binding (from a server action, where cookies can be set). */
export async function setSignInTicketCookies(token: string, browserBinding: string): Promise<void> {
  const store = await cookies();
  store.set(signInTicketCookieName, token, cookieOptions);
  store.set(signInBindingCookieName, browserBinding, cookieOptions);
}

/** The ticket and binding this browser holds, or null when either is missing. */
export async function readSignInTicketCookies(): Promise<{ token: string; browserBinding: string } | null> {
  const store = await cookies();
  const token = store.get(signInTicketCookieName)?.value;
  const browserBinding = store.get(signInBindingCookieName)?.value;
  if (!token || !browserBinding) return null;
  return { token, browserBinding };
}

/** Forgets the ticket (the sign-in completed, or the ticket is dead): it must not linger in the browser. */
export async function clearSignInTicketCookies(): Promise<void> {
  const store = await cookies();
  // Deleting a `__Host-` cookie needs the same Secure and Path attributes as setting it.
  store.set(signInTicketCookieName, "", { ...cookieOptions, maxAge: 0 });
  store.set(signInBindingCookieName, "", { ...cookieOptions, maxAge: 0 });
}
