import "server-only";
import { AuthError } from "next-auth";
import { redirect } from "next/navigation";
import { signIn } from "@/lib/auth/auth";
import { deviceIdForSignIn } from "@/lib/auth/device-cookie";
import { clearSignInTicketCookies, readSignInTicketCookies } from "@/lib/auth/sign-in-ticket-cookies";
import { readSignInTicket } from "@/lib/auth/sign-in-tickets";

/**
 * Where a browser whose ticket is missing, expired or used goes: the sign-in page, which says in a plain
 * sentence that the sign-in has to start again (app/(auth)/login/page.tsx, reason "ticket").
 */
export const restartSignInPath = "/login?reason=ticket";

/** Forgets the dead ticket and sends the browser back to the start. Never returns (redirect() throws). */
export async function restartSignIn(): Promise<never> {
  await clearSignInTicketCookies();
  redirect(restartSignInPath);
}

/**
 * The browser's ticket and binding, or a redirect back to the start when it holds none. Only called from server
 * actions and pages of the second step.
 */
export async function requireSignInTicketCookies(): Promise<{ token: string; browserBinding: string }> {
  const ticket = await readSignInTicketCookies();
  if (!ticket) return restartSignIn();
  return ticket;
}

function isBackOfficePath(path: string): boolean {
  return path === "/admin" || path.startsWith("/admin/") || path.startsWith("/admin?");
}

/**
 * Completes a sign-in whose second factor was just proven: Auth.js's "ticket" provider claims the ticket (once)
 * and creates the session (lib/auth/auth.ts, lib/auth/complete-sign-in.ts). On success Auth.js sets the session
 * cookie and throws Next's redirect to `redirectTo`, which the action wrapper lets through (STACK-NOTES trap 25).
 * A ticket that can no longer be claimed sends the browser back to the start.
 */
export async function finishSignIn(redirectTo: string): Promise<never> {
  const ticket = await requireSignInTicketCookies();
  // Staff have no bank accounts and the customer pages are a 404 for them: they land in the back office, or
  // on the back-office page they were asked to sign in for.
  const state = await readSignInTicket(ticket.token, ticket.browserBinding);
  const destination = state?.staff && !isBackOfficePath(redirectTo) ? "/admin" : redirectTo;
  const deviceId = await deviceIdForSignIn();
  // The ticket is spent whatever happens next: keep it out of the browser from here on.
  await clearSignInTicketCookies();
  try {
    await signIn("ticket", { ticket: ticket.token, binding: ticket.browserBinding, deviceId, redirectTo: destination });
  } catch (error) {
    if (error instanceof AuthError) redirect(restartSignInPath);
    throw error;
  }
  // signIn() always throws (a redirect on success); reaching here would be a library change.
  redirect(restartSignInPath);
}
