import { type NextRequest, NextResponse } from "next/server";
import { isSessionCookieName, secureCookieOptions, sessionCookieName } from "@/lib/auth/cookie-names";
import { isSessionStatusPoll } from "@/lib/auth/request-purpose";
import { countsAsSessionActivity, renewSessionToken } from "@/lib/auth/session-cookie-renewal";
import { type Environment, parseEnvironment } from "@/lib/env-schema";
import { buildContentSecurityPolicy } from "@/lib/security/content-security-policy";
import { isSameOriginRequest, isStateChangingMethod } from "@/lib/security/origin";
import { proxyRefusal, wantsHtml } from "@/lib/security/proxy-responses";
import {
  clientKeyForIp,
  consumeRateLimit,
  type RateLimitDecision,
  type RateLimitName,
  rateLimitHeaders,
} from "@/lib/security/rate-limit";

/**
 * The first, cheap filter in front of everything but static files (STACK-NOTES traps 13 and 19):
 * 1. refuses cross-site writes (Origin missing or foreign, or Sec-Fetch-Site cross-site) with 403;
 * 2. applies the per-IP rate limits, keyed by the address server.ts wrote into `x-client-ip`;
 * 3. redirects visitors without a session cookie away from customer pages, and answers the back office (/admin)
 *    with the site's ordinary 404 for them (a redirect to /login would reveal that something lives there);
 * 4. re-issues the session cookie with a fresh lifetime on requests that count as activity (not on prefetches,
 *    not on the timeout dialog's poll), by decrypting and re-encrypting it, without any database read;
 * 5. sets a CSP with a fresh nonce.
 * It is never the only guard: pages, actions, route handlers and the data layer check the session, role,
 * ownership and origin themselves.
 */

// No form or API call of this bank sends more; server actions are capped at the same size in next.config.ts,
// where an oversized body would otherwise surface as a 500.
const maximumRequestBodyBytes = 64 * 1024;
// Every step of sign-in counts against one per-IP budget: the password, the second factor and enrolment. The
// Auth.js endpoints stay listed although no password provider exists any more (a POST there creates nothing),
// and the ticket provider's are listed because they too accept sign-in attempts.
const signInPaths = [
  "/login",
  "/login/second-factor",
  "/login/enrol",
  "/api/auth/callback/credentials",
  "/api/auth/signin/credentials",
  "/api/auth/callback/ticket",
  "/api/auth/signin/ticket",
  // The re-enrolment link after a staff reset of the second factor takes the password: the same budget.
  "/reenrol-authenticator",
];
const registrationPaths = ["/register", "/forgot-password", "/reset-password", "/verify-email"];
// Paths that a signed-out visitor may reach. API routes answer 401 themselves instead of redirecting.
// "/login" covers the second step's pages too (/login/second-factor, /login/enrol).
const publicPathPrefixes = [
  "/login",
  "/logout",
  "/register",
  "/forgot-password",
  "/reset-password",
  "/verify-email",
  // A staff invitation's acceptance page (token-authenticated; the invitee has no account yet).
  "/staff-invitation",
  "/reenrol-authenticator",
  "/dev/mailbox",
  "/docs",
  "/api/",
];

// The staff back office. Unlike customer pages it is never announced to a visitor without a session.
const backOfficePrefix = "/admin";
// An address no page of the app matches, so that Next renders its ordinary not-found page for it.
const notFoundPath = "/_not-found";

let cachedEnvironment: Environment | undefined;
function configuration(): Environment {
  cachedEnvironment ??= parseEnvironment(process.env);
  return cachedEnvironment;
}

function matchesPrefix(pathname: string, prefix: string): boolean {
  return pathname === prefix || pathname.startsWith(prefix.endsWith("/") ? prefix : `${prefix}/`);
}

/** Only the cookie's presence: the proxy does not decrypt it (pages and the data layer do). */
function hasSessionCookie(request: NextRequest): boolean {
  return request.cookies.getAll().some((cookie) => isSessionCookieName(cookie.name));
}

/**
 * The session cookie re-encrypted with a fresh lifetime, when this request counts as the customer's activity and
 * carries a token that decrypts; otherwise null (lib/auth/session-cookie-renewal.ts explains why).
 */
async function renewedSessionCookie(request: NextRequest, settings: Environment): Promise<string | null> {
  if (!settings.authSecret) return null;
  if (!countsAsSessionActivity(request.method, request.nextUrl.pathname, request.headers)) return null;
  const token = request.cookies.get(sessionCookieName)?.value;
  if (!token) return null;
  return renewSessionToken(token, settings.authSecret, settings.sessionIdleTimeoutSeconds);
}

/** Which per-IP limits a request counts against. Each request counts against one budget (two for the API). */
function limitsFor(request: NextRequest): RateLimitName[] {
  const { pathname } = request.nextUrl;
  const isWrite = isStateChangingMethod(request.method);
  if (pathname === "/api/csp-report") return ["cspReports"];
  if (isSessionStatusPoll(request.method, pathname)) return ["sessionStatus"];
  if (matchesPrefix(pathname, "/api/v1")) return ["apiHourly", "apiDaily"];
  if (isWrite && signInPaths.includes(pathname)) return ["signIn"];
  if (isWrite && registrationPaths.includes(pathname)) return ["registration"];
  // Accepting a staff invitation checks a password and an authenticator code: per IP, like registration.
  if (isWrite && matchesPrefix(pathname, "/staff-invitation")) return ["registration"];
  // A signed-in user's server actions are limited per user by the action wrapper, so that many customers
  // behind one office or carrier NAT are not throttled together. Without a session cookie they count here.
  if (request.headers.has("next-action") && hasSessionCookie(request)) return [];
  return ["pageViews"];
}

export async function proxy(request: NextRequest): Promise<Response> {
  const settings = configuration();
  const { pathname } = request.nextUrl;
  const html = wantsHtml(request.headers, pathname);

  // CSP reports are sent by browsers without credentials and change nothing but a log line; they have their
  // own small limit instead of the origin rule (browsers do not reliably send Origin with them).
  if (isStateChangingMethod(request.method) && pathname !== "/api/csp-report") {
    if (!isSameOriginRequest(request.headers, settings.appOrigin)) {
      return proxyRefusal({ status: 403, code: "cross_site_request", title: "This request was refused.", html });
    }
  }

  if (isStateChangingMethod(request.method)) {
    const declaredLength = request.headers.get("content-length");
    if (declaredLength === null && request.headers.has("transfer-encoding")) {
      // A streamed body of unknown size could only be refused after it was read; browsers always declare it.
      return proxyRefusal({ status: 411, code: "length_required", title: "This request was refused.", html });
    }
    if (Number(declaredLength ?? "0") > maximumRequestBodyBytes) {
      return proxyRefusal({ status: 413, code: "payload_too_large", title: "That request is too large.", html });
    }
  }

  const clientKey = clientKeyForIp(request.headers.get("x-client-ip"));
  let apiDecision: RateLimitDecision | null = null;
  for (const name of limitsFor(request)) {
    const outcome = await consumeRateLimit(settings, name, clientKey);
    if (outcome.kind === "unavailable") {
      return proxyRefusal({
        status: 503,
        code: "unavailable",
        title: "The service is temporarily unavailable. Please try again shortly.",
        html,
        headers: { "Retry-After": "5" },
      });
    }
    if (outcome.kind === "limited") {
      return proxyRefusal({
        status: 429,
        code: "rate_limited",
        title: "Too many requests. Please wait a moment and try again.",
        html,
        headers: rateLimitHeaders(outcome.decision),
      });
    }
    // For the API, report the tighter of the two budgets it counts against.
    if (outcome.decision && (apiDecision === null || outcome.decision.remaining < apiDecision.remaining)) {
      apiDecision = outcome.decision;
    }
  }

  const isPublic = publicPathPrefixes.some((prefix) => matchesPrefix(pathname, prefix));
  const hidesWithoutSession = matchesPrefix(pathname, backOfficePrefix);
  if (hidesWithoutSession && request.headers.has("next-action") && !hasSessionCookie(request)) {
    // A server action call cannot be rewritten to the not-found page: Next would look for the action there and
    // forward the call to the page that holds it. Without a session there is nothing to run: a plain 404.
    return proxyRefusal({ status: 404, code: "not_found", title: "Page not found", html });
  }
  if (!isPublic && !hidesWithoutSession && !hasSessionCookie(request)) {
    // Built from the configured origin, never from the Host header.
    return NextResponse.redirect(new URL("/login", settings.appOrigin), 307);
  }

  const nonce = Buffer.from(crypto.getRandomValues(new Uint8Array(16))).toString("base64");
  const contentSecurityPolicy = buildContentSecurityPolicy(nonce, process.env.NODE_ENV === "development");
  // Next reads the nonce from the request's CSP header and puts it on the scripts it renders.
  const requestHeaders = new Headers(request.headers);
  requestHeaders.set("x-nonce", nonce);
  requestHeaders.set("content-security-policy", contentSecurityPolicy);
  // Without a session cookie the back office is rendered as an address that matches no page, which is exactly
  // the site's 404 (status, page and headers), with the nonce like any other page. The admin layout and pages
  // answer the same 404 to customers and to signed-out visitors with a forged cookie: this is only the early
  // filter.
  const response =
    hidesWithoutSession && !hasSessionCookie(request)
      ? NextResponse.rewrite(new URL(notFoundPath, request.nextUrl), { request: { headers: requestHeaders } })
      : NextResponse.next({ request: { headers: requestHeaders } });
  response.headers.set("content-security-policy", contentSecurityPolicy);
  const renewedToken = await renewedSessionCookie(request, settings);
  if (renewedToken) {
    const maxAge = settings.sessionIdleTimeoutSeconds;
    // Max-Age for current browsers, Expires (what Auth.js itself sends) for the rest: both say the same moment.
    response.cookies.set(sessionCookieName, renewedToken, {
      ...secureCookieOptions,
      maxAge,
      expires: new Date(Date.now() + maxAge * 1000),
    });
  }
  if (apiDecision && matchesPrefix(pathname, "/api/v1")) {
    for (const [name, value] of Object.entries(rateLimitHeaders(apiDecision))) response.headers.set(name, value);
  }
  return response;
}

export const config = {
  // Static assets, images and the health and readiness probes need neither a nonce, a session nor a limit
  // (trap 19). Prefetch requests are NOT excluded: a header a client can send must never skip these checks.
  matcher: ["/((?!_next/static|_next/image|favicon.ico|robots.txt|refusal.css|api/health|api/ready).*)"],
};
