/**
 * How the bank's open tabs tell each other about the session they share (one cookie, one session record):
 * a deadline that moved because one tab was active, and a sign-out in one tab, which ends the others too.
 * Browser-only; every function is a no-op where BroadcastChannel does not exist.
 */
export const sessionChannelName = "bank-session";

/** Why a tab is leaving; it decides the sentence on the sign-in page. */
export type SignOutReason = "timeout" | "expired" | "signed-out";

export type SessionChannelMessage =
  | { type: "deadlines"; idleExpiresAtMilliseconds: number; absoluteExpiresAtMilliseconds: number }
  | { type: "signed-out"; reason: SignOutReason };

const reasons: readonly SignOutReason[] = ["timeout", "expired", "signed-out"];

/** Messages come from our own origin only, but a message is still data: its shape is checked before use. */
export function parseSessionChannelMessage(data: unknown): SessionChannelMessage | null {
  if (typeof data !== "object" || data === null) return null;
  const message = data as Record<string, unknown>;
  if (
    message.type === "deadlines" &&
    Number.isFinite(message.idleExpiresAtMilliseconds) &&
    Number.isFinite(message.absoluteExpiresAtMilliseconds)
  ) {
    return {
      type: "deadlines",
      idleExpiresAtMilliseconds: message.idleExpiresAtMilliseconds as number,
      absoluteExpiresAtMilliseconds: message.absoluteExpiresAtMilliseconds as number,
    };
  }
  if (message.type === "signed-out" && reasons.includes(message.reason as SignOutReason)) {
    return { type: "signed-out", reason: message.reason as SignOutReason };
  }
  return null;
}

export function openSessionChannel(): BroadcastChannel | null {
  return typeof BroadcastChannel === "undefined" ? null : new BroadcastChannel(sessionChannelName);
}

/** Tells the other tabs, with a channel opened just for this message (used by the sign-out form). */
export function broadcastSessionMessage(message: SessionChannelMessage): void {
  const channel = openSessionChannel();
  if (!channel) return;
  channel.postMessage(message);
  channel.close();
}

/** Where a tab goes when the session ends: the sign-in page, saying why when the reason is a limit. */
export function signInPathFor(reason: SignOutReason): string {
  return reason === "signed-out" ? "/login" : `/login?reason=${reason}`;
}

/**
 * Ends the session from this tab: POST /logout (the route revokes the session record and clears the cookie;
 * it takes no fields, and fetch sends the Origin header it requires), then the sign-in page. A network failure
 * does not keep anyone signed in: the server ends an idle session by itself, and the tab leaves regardless.
 */
export async function signOutAndLeave(reason: SignOutReason): Promise<void> {
  try {
    await fetch("/logout", { method: "POST", credentials: "same-origin", redirect: "manual", cache: "no-store" });
  } catch {
    // The sign-in page is the destination whatever the answer; see the comment above.
  }
  window.location.assign(signInPathFor(reason));
}
