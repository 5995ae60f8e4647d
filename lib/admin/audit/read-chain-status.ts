import "server-only";
import { sql } from "drizzle-orm";
import { database, executeRows } from "@/db/client";
import { requireStaffPermission } from "@/lib/admin/staff-guard";
import { verifyAuditChain, type AuditChainProblem, type AuditChainVerification } from "@/lib/audit/verify-audit-chain";
import type { Actor } from "@/lib/auth/actor";

/** The audit chain's verification status as the back office shows it: counts and positions, never hashes or keys. */
export type AuditChainStatus = (
  | {
      state: "ok";
      sealedEvents: number;
      checkpointsVerified: number;
    }
  | {
      state: "broken";
      problem: AuditChainProblem;
      /** The first broken position of the chain, and the event sequence there when there is one (decimal text). */
      chainPosition: string;
      sequence: string | null;
      /** The verifier's sentence for an operator; it names positions and sequences only. */
      message: string;
    }
) & {
  /** When the chain was walked: up to `verificationCacheMilliseconds` before the page was rendered. */
  verifiedAt: Date;
  verificationDurationMilliseconds: number;
  /** Events written but not yet linked into the chain, counted now (a few are normal: the sealer runs every few seconds). */
  unsealedEvents: number;
  /** When the newest signed checkpoint was made, or null when there is none yet. */
  lastCheckpointAt: Date | null;
};

/**
 * How long one walk of the chain answers for. The verifier recomputes every link from the first, so its cost
 * grows with the trail (measured: 1.3–1.7 s for 20,000 events here, see README, Back office, Audit trail); a page that every auditor may reload must
 * not start a full walk per view. One walk per minute per instance, shared by concurrent viewers, keeps that
 * bounded; the page says when the chain was verified, and `npm run audit:verify` always walks it afresh.
 */
export const verificationCacheMilliseconds = 60_000;

interface CachedVerification {
  result: AuditChainVerification;
  verifiedAt: Date;
  durationMilliseconds: number;
}

let cached: CachedVerification | null = null;
let running: Promise<CachedVerification> | null = null;

async function walkChain(): Promise<CachedVerification> {
  const started = performance.now();
  const verifiedAt = new Date();
  const result = await verifyAuditChain(database());
  return { result, verifiedAt, durationMilliseconds: Math.round(performance.now() - started) };
}

async function currentVerification(now: Date, maximumAgeMilliseconds: number): Promise<CachedVerification> {
  if (cached !== null && now.getTime() - cached.verifiedAt.getTime() < maximumAgeMilliseconds) return cached;
  // Viewers who arrive while a walk is running wait for that walk instead of starting their own.
  running ??= walkChain().finally(() => {
    running = null;
  });
  const fresh = await running;
  cached = fresh;
  return fresh;
}

/**
 * The chain's verification status for the audit-trail page: the verifier's answer (at most a minute old,
 * see above), plus the unsealed count and the last checkpoint's time read now. `maximumAgeMilliseconds: 0`
 * forces a fresh walk (tests, and anyone who must not see a cached answer).
 */
export async function readAuditChainStatus(
  actor: Actor | null | undefined,
  options: { maximumAgeMilliseconds?: number } = {},
): Promise<AuditChainStatus> {
  requireStaffPermission(actor, "audit.read");
  const verification = await currentVerification(new Date(), options.maximumAgeMilliseconds ?? verificationCacheMilliseconds);
  const [counts] = await executeRows<{ unsealed: string; lastCheckpointAt: Date | string | null }>(
    database(),
    sql`SELECT
          (SELECT count(*) FROM audit_events
            WHERE sequence > coalesce((SELECT sequence FROM audit_chain_links ORDER BY chain_position DESC LIMIT 1), 0))::text
            AS unsealed,
          (SELECT max(created_at) FROM audit_checkpoints) AS "lastCheckpointAt"`,
  );
  const common = {
    verifiedAt: verification.verifiedAt,
    verificationDurationMilliseconds: verification.durationMilliseconds,
    unsealedEvents: Number(counts?.unsealed ?? 0),
    lastCheckpointAt: counts?.lastCheckpointAt ? new Date(counts.lastCheckpointAt) : null,
  };
  const result = verification.result;
  return result.ok
    ? { state: "ok", sealedEvents: result.sealedEvents, checkpointsVerified: result.checkpointsVerified, ...common }
    : {
        state: "broken",
        problem: result.problem,
        chainPosition: result.chainPosition,
        sequence: result.sequence,
        message: result.message,
        ...common,
      };
}
