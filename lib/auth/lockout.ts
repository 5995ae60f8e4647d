import "server-only";
import { and, eq, isNull, lte, or, sql } from "drizzle-orm";
import { database } from "@/db/client";
import { signInEvents, users } from "@/db/schema";
import type { RequestContext } from "@/lib/auth/actor";
import { recordAuditEvent } from "@/lib/audit/record-audit-event";
import { decryptField } from "@/lib/crypto";
import { env } from "@/lib/env";
import { enqueueEmail } from "@/lib/mail/outbox";
import { scheduleEmailDelivery } from "@/lib/mail/schedule-delivery";
import { countLockout, countSignInOutcome } from "@/lib/metrics/registry";

/**
 * Why an attempt to prove who someone is failed. Only a wrong password and a wrong second-factor code are
 * guesses at a secret, so only they count towards a lock; the others are recorded for the login history and
 * the audit trail and leave the count alone.
 */
export type FailedAttemptReason = "unknown_account" | "wrong_password" | "locked" | "unverified" | "second_factor_failed";

/**
 * Where the failure happened: in a sign-in (password or the sign-in's second step) or in a step-up inside a
 * signed-in session. Both count towards the same lock, because both are guesses at the same account's secrets;
 * only the audit action tells them apart.
 */
export type FailedAttemptStage = "sign_in" | "step_up";

const countedReasons: ReadonlySet<FailedAttemptReason> = new Set(["wrong_password", "second_factor_failed"]);

const auditActionOf: Record<FailedAttemptStage, string> = {
  sign_in: "auth.sign_in.failed",
  step_up: "auth.step_up.failed",
};

// Matches no user: the counting UPDATE of a failure that must not count still runs, against nobody.
const nobody = "00000000-0000-0000-0000-000000000000";

/**
 * Records a failed attempt, and counts it towards a lock when it was a guess (a wrong password or a wrong
 * second-factor code). Returns whether this very attempt began a lock.
 *
 * Every kind of failure runs the same transaction (the counting UPDATE, the login-history row, the audit event),
 * so that the time an answer takes does not tell an unknown email from a wrong password or a locked account: the
 * UPDATE of a failure that does not count simply matches no row. `bench/sign-in-timing.ts` measures the result.
 *
 * The count is shared by passwords and codes: three wrong passwords and two wrong codes lock an account exactly
 * like five wrong passwords, so an attacker who has the password cannot get five more guesses at the code.
 *
 * The UPDATE reads and writes the count in one statement, and the row lock it takes serialises parallel wrong
 * guesses; its WHERE skips a row that another request has just locked. The `SIGN_IN_FAILURES_BEFORE_LOCK`-th
 * failure locks the account for `LOCKOUT_DURATION_SECONDS` and resets the count to zero in the same statement;
 * attempts during a lock are recorded but neither counted nor allowed to extend it.
 */
export async function recordFailedAttempt(
  userId: string | null,
  reason: FailedAttemptReason,
  context: RequestContext,
  stage: FailedAttemptStage = "sign_in",
): Promise<boolean> {
  const { lockout } = env();
  const countedUserId = countedReasons.has(reason) && userId ? userId : nobody;
  const lockedNow = await database().transaction(async (tx) => {
    const [updated] = await tx
      .update(users)
      .set({
        failedSignInCount: sql`case when ${users.failedSignInCount} + 1 >= ${lockout.failuresBeforeLock} then 0 else ${users.failedSignInCount} + 1 end`,
        lockedUntil: sql`case when ${users.failedSignInCount} + 1 >= ${lockout.failuresBeforeLock} then now() + make_interval(secs => ${lockout.durationSeconds}) else ${users.lockedUntil} end`,
        lastLockedAt: sql`case when ${users.failedSignInCount} + 1 >= ${lockout.failuresBeforeLock} then now() else ${users.lastLockedAt} end`,
      })
      .where(and(eq(users.id, countedUserId), or(isNull(users.lockedUntil), lte(users.lockedUntil, sql`now()`))))
      .returning({
        lockedUntil: users.lockedUntil,
        emailCiphertext: users.emailCiphertext,
        failedSignInCount: users.failedSignInCount,
      });
    // A lock that begins resets the count to zero in the same statement, which is how it is recognised.
    const justLocked = Boolean(updated?.lockedUntil && updated.lockedUntil > new Date() && updated.failedSignInCount === 0);
    await tx.insert(signInEvents).values({ userId, outcome: justLocked ? "locked" : reason, ...context });
    await recordAuditEvent(tx, {
      actorId: null,
      actorRole: null,
      action: auditActionOf[stage],
      targetType: userId ? "user" : undefined,
      targetId: userId ?? undefined,
      ...context,
      details: { reason, lockedNow: justLocked },
    });
    if (justLocked && updated && userId) {
      const email = await decryptField(updated.emailCiphertext, { table: "users", column: "email", rowId: userId });
      await enqueueEmail(
        tx,
        { userId, email },
        { template: "account_locked", lockedForMinutes: Math.ceil(lockout.durationSeconds / 60) },
      );
      await recordAuditEvent(tx, {
        actorId: null,
        actorRole: null,
        action: "auth.account.locked",
        targetType: "user",
        targetId: userId,
        ...context,
        details: { durationSeconds: lockout.durationSeconds },
      });
    }
    return justLocked;
  });
  // Counted after the commit, so that a rolled-back attempt is not counted. Step-up failures are not sign-in
  // outcomes; the locks they cause are lockouts all the same.
  if (stage === "sign_in") countSignInOutcome(reason);
  if (lockedNow) {
    countLockout(stage);
    scheduleEmailDelivery();
  }
  return lockedNow;
}

/** Whether the account is locked at this moment (a lock is over once `locked_until` has passed). */
export function isLockedAt(lockedUntil: Date | null, now: Date = new Date()): boolean {
  return lockedUntil !== null && lockedUntil > now;
}
