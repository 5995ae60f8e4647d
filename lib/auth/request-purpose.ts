/**
 * Which requests count as the customer's activity. The idle timeout is about a person using the bank, so only
 * real page requests, navigations, server actions, API calls and the dialog's "Stay signed in" move a session's
 * `last_seen_at` forward and re-issue its cookie. Two kinds of request are made by the browser on its own and
 * must never keep a session alive:
 * - prefetches: Next's router fetches the pages behind links in view (`next-router-prefetch`,
 *   `next-router-segment-prefetch`), and browsers mark speculative loads with `Sec-Purpose: prefetch` (or the
 *   older `Purpose: prefetch`);
 * - the timeout dialog's status poll (`GET /api/session`), which asks when the session ends and must not
 *   thereby postpone the end.
 * A client can always add a prefetch header to a real request; all that gains it is NOT being counted as
 * active, so believing the header is safe. No `server-only`: proxy.ts uses it.
 */
export const sessionStatusPath = "/api/session";
export const keepAlivePath = "/api/session/keep-alive";

export function isPrefetchRequest(requestHeaders: Headers): boolean {
  if (requestHeaders.has("next-router-prefetch") || requestHeaders.has("next-router-segment-prefetch")) return true;
  return [requestHeaders.get("sec-purpose"), requestHeaders.get("purpose")].some(
    (value) => value !== null && value.toLowerCase().split(/[\s;,]+/).includes("prefetch"),
  );
}

/** The dialog's poll: a read of the session's deadlines that is not itself activity. */
export function isSessionStatusPoll(method: string, pathname: string): boolean {
  return (method === "GET" || method === "HEAD") && pathname === sessionStatusPath;
}
