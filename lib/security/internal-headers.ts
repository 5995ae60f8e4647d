/**
 * Headers that Next.js (or the custom server) uses to talk to itself. A client that could send them could skip
 * the proxy/middleware (`x-middleware-subrequest`, CVE-2025-29927), pretend to be an internal invocation, pick
 * the matched route, inject a CSP nonce or forge the client address that server.ts sets. server.ts strips them
 * from every incoming request before Next sees it. Pure and free of `server-only` so unit tests can cover it.
 */
import type { IncomingHttpHeaders } from "node:http";

/** Every header whose name starts with one of these is internal to Next.js. */
export const internalHeaderPrefixes = ["x-middleware-", "x-invoke-", "x-nextjs-", "x-next-"] as const;

/**
 * Internal headers that are matched by exact name. `x-client-ip` and `x-bank-prefetch` (which marks a prefetch
 * for proxy.ts, lib/auth/request-purpose.ts) are written by server.ts alone.
 */
export const internalHeaderNames = ["x-matched-path", "x-now-route-matches", "x-nonce", "x-client-ip", "x-bank-prefetch"] as const;

/**
 * Reports whether a client must never be allowed to send this header. The legitimate client headers of the
 * App Router (`rsc`, `next-action`, `next-router-state-tree`, `next-router-prefetch`, `next-url`) carry no
 * `x-` prefix and so are never matched.
 */
export function isInternalHeaderName(name: string): boolean {
  // Node already lower-cases incoming header names; lower-casing again keeps the predicate safe for any caller.
  const lowerCaseName = name.toLowerCase();
  return (
    internalHeaderPrefixes.some((prefix) => lowerCaseName.startsWith(prefix)) ||
    (internalHeaderNames as readonly string[]).includes(lowerCaseName)
  );
}

/** Deletes every internal header from the request's headers, in place. */
export function sanitiseIncomingHeaders(headers: IncomingHttpHeaders): void {
  for (const name of Object.keys(headers)) {
    if (isInternalHeaderName(name)) Reflect.deleteProperty(headers, name);
  }
}
