/**
 * The named rate limits, each a sliding window, and what happens when the limiter itself cannot answer.
 * One module owns them; proxy.ts applies the per-IP ones and the action wrapper the per-user one, so no
 * request is counted twice against the same limit.
 */
import type { Environment } from "@/lib/env-schema";

export const rateLimitNames = [
  "apiHourly",
  "apiDaily",
  "signIn",
  "registration",
  "userActions",
  "pageViews",
  "cspReports",
  "sessionStatus",
  "payeeLookups",
  "historyExports",
] as const;

export type RateLimitName = (typeof rateLimitNames)[number];

export interface RateLimitDefinition {
  limit: number;
  windowSeconds: number;
  /**
   * "closed": when the limiter cannot answer, the request is refused (503). Used for everything that lets
   * someone guess passwords, create identities or move money: an attacker who can take Redis down must not
   * thereby switch the limits off.
   * "open": when the limiter cannot answer, the request goes through. Used only for reading pages and
   * reporting CSP violations, where being throttled protects little and a Redis outage should not take the
   * whole bank offline; the session, role and ownership checks still apply to every page.
   */
  whenUnavailable: "closed" | "open";
}

export function rateLimitDefinitions(
  configuration: Pick<Environment, "rateLimits"> & Partial<Pick<Environment, "payeeLookupsPerDay">>,
): Record<RateLimitName, RateLimitDefinition> {
  const limits = configuration.rateLimits;
  return {
    apiHourly: { limit: limits.apiPerHour, windowSeconds: 3_600, whenUnavailable: "closed" },
    apiDaily: { limit: limits.apiPerDay, windowSeconds: 86_400, whenUnavailable: "closed" },
    signIn: { limit: limits.signInPer15Minutes, windowSeconds: 900, whenUnavailable: "closed" },
    registration: { limit: limits.registrationPerHour, windowSeconds: 3_600, whenUnavailable: "closed" },
    userActions: { limit: limits.userActionsPerHour, windowSeconds: 3_600, whenUnavailable: "closed" },
    pageViews: { limit: limits.pageViewsPerHour, windowSeconds: 3_600, whenUnavailable: "open" },
    cspReports: { limit: limits.cspReportsPerHour, windowSeconds: 3_600, whenUnavailable: "open" },
    // The timeout dialog asks for the session's status every 15 seconds in every open tab (240 an hour per tab),
    // which would eat the page-view budget; it reads one row and changes nothing, so it fails open like pages.
    sessionStatus: { limit: limits.sessionStatusPerHour, windowSeconds: 3_600, whenUnavailable: "open" },
    // Confirmation of payee reveals the name on an account for a close match, so lookups are counted per
    // customer (keyed by user id) over a sliding day, and fail closed: no limiter, no name lookups.
    payeeLookups: { limit: configuration.payeeLookupsPerDay ?? 20, windowSeconds: 86_400, whenUnavailable: "closed" },
    // A CSV export reads a whole history in one request: far more work, and far more data leaving the bank,
    // than a page view. Counted per customer and failing closed, since bulk extraction is what a hijacked
    // session would do with it.
    historyExports: { limit: limits.historyExportsPerHour, windowSeconds: 3_600, whenUnavailable: "closed" },
  };
}
