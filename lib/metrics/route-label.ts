/**
 * Turns a request path into the label the latency histogram files it under: the Next route pattern it is
 * served by (`/accounts/[accountId]`, never `/accounts/3f6c…`), or one of a few fixed labels. The set of
 * possible labels is the app's route list plus the fixed ones, so no request can add a time series.
 *
 * Pure and without `server-only`, so that server.ts (outside Next's build) and unit tests use it directly.
 */

/** The app's routes in matching order: exact pages first, then patterns in the order Next ranks them. */
export interface RouteTable {
  readonly staticPages: ReadonlySet<string>;
  readonly dynamicPages: readonly string[];
}

/** Labels for requests that match no page of the app; a fixed, small set. */
export const unmatchedRouteLabel = "unmatched";
export const staticAssetRouteLabel = "/_next/static";
export const imageRouteLabel = "/_next/image";
export const otherInternalRouteLabel = "/_next/other";

export function createRouteTable(staticPages: readonly string[], dynamicPages: readonly string[]): RouteTable {
  return { staticPages: new Set(staticPages), dynamicPages: [...dynamicPages] };
}

function segmentsOf(pathname: string): string[] {
  return pathname.split("/").filter((segment) => segment.length > 0);
}

/**
 * Whether a path's segments fit a pattern's: `[name]` takes exactly one segment, `[...name]` one or more
 * (only last), `[[...name]]` any number (only last); anything else must be equal.
 */
function matchesPattern(pattern: string, pathSegments: readonly string[]): boolean {
  const patternSegments = segmentsOf(pattern);
  for (const [index, patternSegment] of patternSegments.entries()) {
    if (patternSegment.startsWith("[[...") && patternSegment.endsWith("]]")) return true;
    if (patternSegment.startsWith("[...") && patternSegment.endsWith("]")) return pathSegments.length > index;
    const pathSegment = pathSegments.at(index);
    if (pathSegment === undefined) return false;
    const isParameter = patternSegment.startsWith("[") && patternSegment.endsWith("]");
    if (!isParameter && patternSegment !== pathSegment) return false;
  }
  return patternSegments.length === pathSegments.length;
}

/**
 * The pathname of a request target, without query or fragment, without a trailing slash, and without the
 * suffixes Next's router adds to the same page's data requests (`.rsc`, `.segments/…`), so that a page and
 * its prefetches share one label.
 */
export function normalisePathname(requestTarget: string): string {
  let pathname = requestTarget.split(/[?#]/, 1)[0] ?? "";
  if (!pathname.startsWith("/")) return "";
  const segmentsMarker = pathname.indexOf(".segments/");
  if (segmentsMarker !== -1) pathname = pathname.slice(0, segmentsMarker);
  if (pathname.endsWith(".rsc")) pathname = pathname.slice(0, -".rsc".length);
  if (pathname.endsWith(".prefetch")) pathname = pathname.slice(0, -".prefetch".length);
  while (pathname.length > 1 && pathname.endsWith("/")) pathname = pathname.slice(0, -1);
  if (pathname === "/index") return "/";
  return pathname;
}

/** The route label of a request target (the raw `request.url` of Node's http server). */
export function routeLabelFor(requestTarget: string | undefined, table: RouteTable): string {
  const pathname = normalisePathname(requestTarget ?? "");
  if (pathname === "") return unmatchedRouteLabel;
  if (pathname === "/_next/static" || pathname.startsWith("/_next/static/")) return staticAssetRouteLabel;
  if (pathname === "/_next/image") return imageRouteLabel;
  if (pathname === "/_next" || pathname.startsWith("/_next/")) return otherInternalRouteLabel;
  if (table.staticPages.has(pathname)) return pathname;
  const pathSegments = segmentsOf(pathname);
  return table.dynamicPages.find((pattern) => matchesPattern(pattern, pathSegments)) ?? unmatchedRouteLabel;
}
