/**
 * The Prometheus metrics of this process (README, Operations). No `server-only` marker: the custom server
 * (server.ts, run by tsx outside Next's build) serves and feeds them, and proxy.ts counts rate-limit refusals.
 *
 * Next bundles the app, proxy.ts and server.ts into separate module graphs that all run in one process, so a
 * module-level registry would exist once per graph and each would serve only part of the counts. The one
 * registry lives on globalThis under a registered symbol instead, created by whichever graph asks first; each
 * process (each app instance) has its own, and each instance is scraped on its own.
 *
 * Every label takes its values from a closed list (route patterns, outcome names, limiter names): a label fed
 * from user input or raw paths would create a new time series per value, which is both a memory leak and a
 * way for a client to knock the monitoring over.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";
import type { RateLimitName } from "@/lib/security/rate-limit/definitions";

/** Outcomes of the sign-in steps as the data layer decides them (lib/auth). */
export type SignInOutcome =
  | "success"
  | "password_verified"
  | "malformed"
  | "unknown_account"
  | "wrong_password"
  | "unverified"
  | "locked"
  | "second_factor_failed";

/** Where a lock began: a wrong password or code during sign-in, or a wrong code during a step-up. */
export type LockoutStage = "sign_in" | "step_up";

export type RateLimitRefusal = "limited" | "unavailable";

function createMetrics() {
  const registry = new Registry();
  // Process CPU, memory, event-loop lag and garbage collection: the first things to look at when latency grows.
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    httpRequestDuration: new Histogram({
      name: "bank_http_request_duration_seconds",
      help: "Time from receiving a request to the end of its response, by route pattern, method and status class.",
      labelNames: ["route", "method", "status_class"] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    signInOutcomes: new Counter({
      name: "bank_sign_in_outcomes_total",
      help: "Sign-in steps by outcome: password_verified (first factor), success (session created) and each failure.",
      labelNames: ["outcome"] as const,
      registers: [registry],
    }),
    lockouts: new Counter({
      name: "bank_account_lockouts_total",
      help: "Accounts locked after too many wrong passwords or codes, by where the last guess was made.",
      labelNames: ["stage"] as const,
      registers: [registry],
    }),
    transfers: new Counter({
      name: "bank_transfers_total",
      help: "Customer transfers by outcome (posted, held, replayed, refused, failed) and refusal reason.",
      labelNames: ["outcome", "reason"] as const,
      registers: [registry],
    }),
    rateLimitRefusals: new Counter({
      name: "bank_rate_limit_refusals_total",
      help: "Requests refused by a rate limit (limited) or because its store could not answer (unavailable).",
      labelNames: ["limiter", "result"] as const,
      registers: [registry],
    }),
    auditUnsealedEvents: new Gauge({
      name: "bank_audit_unsealed_events",
      help: "Committed audit events not yet linked into the hash chain, as of this instance's last sealer run.",
      registers: [registry],
    }),
    auditOldestUnsealedAgeSeconds: new Gauge({
      name: "bank_audit_oldest_unsealed_event_age_seconds",
      help: "Age of the oldest audit event not yet linked into the hash chain (0 when all are sealed).",
      registers: [registry],
    }),
  };
}

export type BankMetrics = ReturnType<typeof createMetrics>;

const metricsKey = Symbol.for("bank.metrics");
const globalForMetrics = globalThis as typeof globalThis & { [metricsKey]?: BankMetrics };

export function metrics(): BankMetrics {
  globalForMetrics[metricsKey] ??= createMetrics();
  return globalForMetrics[metricsKey];
}

export function countSignInOutcome(outcome: SignInOutcome): void {
  metrics().signInOutcomes.inc({ outcome });
}

export function countLockout(stage: LockoutStage): void {
  metrics().lockouts.inc({ stage });
}

/** `reason` is the refusal's posting outcome; "none" for a transfer that was not refused. */
export function countTransfer(outcome: "posted" | "held" | "replayed" | "refused" | "failed", reason = "none"): void {
  metrics().transfers.inc({ outcome, reason });
}

export function countRateLimitRefusal(limiter: RateLimitName, result: RateLimitRefusal): void {
  metrics().rateLimitRefusals.inc({ limiter, result });
}

export function setAuditSealingLag(unsealedEvents: number, oldestUnsealedAgeSeconds: number): void {
  const current = metrics();
  current.auditUnsealedEvents.set(unsealedEvents);
  current.auditOldestUnsealedAgeSeconds.set(oldestUnsealedAgeSeconds);
}
