import { type NextRequest, NextResponse } from "next/server";
import { parseEnvironment } from "@/lib/env-schema";
import { buildContentSecurityPolicy } from "@/lib/security/content-security-policy";

/**
 * The first, cheap filter in front of every page (STACK-NOTES traps 13 and 19): a fresh CSP nonce per
 * request, and an optimistic redirect of visitors without a session cookie. It is never the only guard:
 * pages, actions, route handlers and the data layer check the session, role and ownership themselves.
 */

// Must match lib/auth/auth.ts; the proxy only looks for the cookie's presence, it does not decrypt it.
const sessionCookieName = "__Secure-authjs.session-token";

// Paths that a signed-out visitor may reach. API routes answer 401 themselves instead of redirecting.
const publicPathPrefixes = ["/login", "/api/"];

let appOrigin: string | undefined;
function configuredOrigin(): string {
  appOrigin ??= parseEnvironment(process.env).appOrigin;
  return appOrigin;
}

function hasSessionCookie(request: NextRequest): boolean {
  // Auth.js splits large tokens into `.0`, `.1`… chunks; any of them counts as present.
  return request.cookies.getAll().some((cookie) => cookie.name === sessionCookieName || cookie.name.startsWith(`${sessionCookieName}.`));
}

export function proxy(request: NextRequest): NextResponse {
  const { pathname } = request.nextUrl;
  const isPublic = publicPathPrefixes.some((prefix) => pathname === prefix || pathname.startsWith(prefix.endsWith("/") ? prefix : `${prefix}/`));
  if (!isPublic && !hasSessionCookie(request)) {
    // Built from the configured origin, never from the Host header.
    return NextResponse.redirect(new URL("/login", configuredOrigin()), 307);
  }

  const nonce = Buffer.from(crypto.getRandomValues(new Uint8Array(16))).toString("base64");
  const contentSecurityPolicy = buildContentSecurityPolicy(nonce, process.env.NODE_ENV === "development");
  // Next reads the nonce from the request's CSP header and puts it on the scripts it renders.
  const requestHeaders = new Headers(request.headers);
  requestHeaders.set("x-nonce", nonce);
  requestHeaders.set("content-security-policy", contentSecurityPolicy);
  const response = NextResponse.next({ request: { headers: requestHeaders } });
  response.headers.set("content-security-policy", contentSecurityPolicy);
  return response;
}

export const config = {
  // Static assets, images and the health probe need neither a nonce nor a session (trap 19).
  matcher: [
    {
      source: "/((?!_next/static|_next/image|favicon.ico|robots.txt|api/health).*)",
      missing: [{ type: "header", key: "next-router-prefetch" }],
    },
  ],
};
