/**
 * Cross-site request checks for state-changing requests. Next's own server-action check lets a request with
 * no Origin header through, and route handlers get no check at all (STACK-NOTES trap 12), so every write
 * requires an Origin equal to the configured public origin and refuses `Sec-Fetch-Site: cross-site`.
 * No `server-only`: proxy.ts uses it too.
 */
export function isSameOriginRequest(requestHeaders: Headers, appOrigin: string): boolean {
  const origin = requestHeaders.get("origin");
  if (origin === null || origin !== appOrigin) return false;
  const fetchSite = requestHeaders.get("sec-fetch-site");
  return fetchSite === null || fetchSite === "same-origin";
}

/** Methods that never change state; every other method is a write and must come from our own origin. */
export function isStateChangingMethod(method: string): boolean {
  return !["GET", "HEAD", "OPTIONS"].includes(method.toUpperCase());
}
