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
 * active, so believing the header is safe. No `server-only`: proxy.ts and server.ts use it.
 *
 * Next removes its router's own headers (`next-router-prefetch`, `next-router-segment-prefetch`, `rsc`…) from
 * the request that proxy.ts sees, so server.ts, which sees the request first, notes a prefetch in
 * `x-bank-prefetch`, a header of its own that no client can set (lib/security/internal-headers.ts strips it).
 */
import type { IncomingHttpHeaders } from "node:http";

export const sessionStatusPath = "/api/session";
export const keepAlivePath = "/api/session/keep-alive";
export const prefetchMarkerHeader = "x-bank-prefetch";

type HeaderReader = (name: string) => string | null;

function saysPrefetch(read: HeaderReader): boolean {
  if (read(prefetchMarkerHeader) === "1") return true;
  if (read("next-router-prefetch") !== null || read("next-router-segment-prefetch") !== null) return true;
  return [read("sec-purpose"), read("purpose")].some(
    (value) => value !== null && value.toLowerCase().split(/[\s;,]+/).includes("prefetch"),
  );
}

export function isPrefetchRequest(requestHeaders: Headers): boolean {
  return saysPrefetch((name) => requestHeaders.get(name));
}

/**
 * For server.ts, after it has removed internal headers: marks a prefetch with `x-bank-prefetch: 1`, so that
 * proxy.ts can still tell once Next has hidden the router's headers from it.
 */
export function markPrefetchRequest(headers: IncomingHttpHeaders): void {
  const read: HeaderReader = (name) => {
    const value = headers[name];
    if (value === undefined) return null;
    return Array.isArray(value) ? value.join(",") : value;
  };
  if (saysPrefetch(read)) headers[prefetchMarkerHeader] = "1";
}

/** The dialog's poll: a read of the session's deadlines that is not itself activity. */
export function isSessionStatusPoll(method: string, pathname: string): boolean {
  return (method === "GET" || method === "HEAD") && pathname === sessionStatusPath;
}
