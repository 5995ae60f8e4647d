/**
 * Open-redirect protection for every redirect target that arrives from outside: `callbackUrl` on the sign-in
 * page, the hidden `redirectTo` field of the sign-in form and Auth.js's own redirect callback. Only a path on
 * this site is accepted; everything else becomes the fallback. No `server-only`: the sign-in schema, which
 * client code may import, uses it too.
 */

/** Longer targets are refused outright; no page of the bank needs a longer path and query. */
export const maximumRedirectLength = 2048;

// A placeholder origin that can never be a real host (`.invalid` is reserved by RFC 2606). Resolving the
// candidate against it shows what a browser would do with it as a relative Location.
const placeholderBase = "https://placeholder.invalid";
const placeholderOrigin = new URL(placeholderBase).origin;

// Controls (C0, DEL, C1), every Unicode whitespace character and the invisible format characters (bidi
// controls, zero-width joiners): browsers silently drop tabs and newlines inside URLs, so "/\t/evil.example"
// becomes "//evil.example", and the others only serve to make a target look different from what it is.
// eslint-disable-next-line no-control-regex -- matching control characters is the point of this pattern.
const forbiddenCharacters = /[\u0000-\u001F\u007F-\u009F\s\p{Cf}]/u;

/**
 * True when one form of the candidate (raw, or decoded once or twice) is a plain same-site path: it starts
 * with exactly one "/", is not protocol-relative ("//host") or the backslash variant ("/\host", which browsers
 * read as "//host"), and holds no backslash or forbidden character anywhere.
 */
function isPlainPath(form: string): boolean {
  if (!form.startsWith("/")) return false;
  if (form.startsWith("//") || form.startsWith("/\\")) return false;
  if (form.includes("\\")) return false;
  return !forbiddenCharacters.test(form);
}

function decodeOnce(form: string): string | null {
  try {
    return decodeURIComponent(form);
  } catch {
    // Malformed percent-encoding: nothing legitimate in this app produces it.
    return null;
  }
}

/**
 * The candidate as a same-origin path (`pathname + search + hash`), or `fallback`.
 *
 * A redirect target may pass through a proxy, a framework or a second redirect that decodes it once more, so
 * the raw value and its once- and twice-decoded forms must all be plain paths ("/%2F%2Fevil.example" decodes
 * to "///evil.example"). The URL parser then has the last word: resolved against a placeholder origin, the
 * target must stay on it, and the normalised path it produces is checked again, because dot segments can
 * collapse into a protocol-relative path ("/.//evil.example" resolves to "//evil.example").
 */
export function safeRedirectPath(candidate: unknown, fallback = "/"): string {
  if (typeof candidate !== "string" || candidate.length === 0 || candidate.length > maximumRedirectLength) {
    return fallback;
  }
  const decodedOnce = decodeOnce(candidate);
  const decodedTwice = decodedOnce === null ? null : decodeOnce(decodedOnce);
  if (decodedOnce === null || decodedTwice === null) return fallback;
  if (![candidate, decodedOnce, decodedTwice].every(isPlainPath)) return fallback;

  let resolved: URL;
  try {
    resolved = new URL(candidate, placeholderBase);
  } catch {
    return fallback;
  }
  if (resolved.origin !== placeholderOrigin) return fallback;
  const path = `${resolved.pathname}${resolved.search}${resolved.hash}`;
  if (!isPlainPath(path) || path.length > maximumRedirectLength) return fallback;
  return path;
}

/**
 * Like `safeRedirectPath`, but an absolute URL on `origin` is first reduced to its path. Auth.js hands the
 * sign-in page absolute callback URLs (`/login?callbackUrl=https://bank.example/accounts`), so the page and the
 * redirect callback accept those; an absolute URL on any other origin becomes the fallback.
 */
export function sameOriginRedirectPath(candidate: unknown, origin: string, fallback = "/"): string {
  if (typeof candidate !== "string" || candidate.length > maximumRedirectLength) return fallback;
  if (candidate.startsWith("/")) return safeRedirectPath(candidate, fallback);
  // The URL parser would quietly drop these from an absolute URL; a target that carries them is not one this
  // site produced.
  if (forbiddenCharacters.test(candidate) || candidate.includes("\\")) return fallback;
  let parsed: URL;
  try {
    parsed = new URL(candidate);
  } catch {
    // Neither a path nor an absolute URL.
    return fallback;
  }
  if (parsed.origin !== new URL(origin).origin) return fallback;
  return safeRedirectPath(`${parsed.pathname}${parsed.search}${parsed.hash}`, fallback);
}

/**
 * For Auth.js's `redirect` callback: a same-origin target reduced to a checked path, anything foreign or unsafe
 * turned into "/", and the answer made absolute on `baseUrl`, as Auth.js expects.
 */
export function sameOriginRedirectUrl(url: string, baseUrl: string): string {
  const origin = new URL(baseUrl).origin;
  return `${origin}${sameOriginRedirectPath(url, origin)}`;
}
