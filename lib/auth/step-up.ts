import "server-only";
import crypto from "node:crypto";
import { and, desc, eq, gt, inArray, isNull, lte } from "drizzle-orm";
import { database } from "@/db/client";
import { sessions, stepUpConfirmations, users } from "@/db/schema";
import type { SessionActor } from "@/lib/auth/actor";
import { recordAuditEvent } from "@/lib/audit/record-audit-event";
import { isLockedAt, recordFailedAttempt } from "@/lib/auth/lockout";
import { verifyTotpForUser } from "@/lib/auth/totp";
import { env } from "@/lib/env";
import { BankError } from "@/lib/errors";

/**
 * Step-up: a fresh second factor inside a signed-in session, for the actions where a session alone is not
 * enough (a stolen or unattended session must not be able to do them).
 *
 * Two kinds:
 * - session-wide (`requireStepUp`): the session's `second_factor_at` must be within the window
 *   (`STEP_UP_WINDOW_SECONDS`, 5 minutes). Sign-in with a second factor sets it, and so does `confirmStepUp`
 *   without a payload. For "recently proved it is you" actions, where a sign-in's own second factor may count.
 * - payload-bound (`requireStepUpForPayload`): a confirmation made for one exact request (the hash of its
 *   canonical payload), used once, within the window. For "confirm this very payment": a code typed for one
 *   payload authorises that payload and nothing else, and only once. New recovery codes use this kind, so the
 *   code is always asked for that very operation (lib/auth/step-up-operations.ts lists the operations).
 *
 * Wrong codes count towards the same lock as wrong passwords (lib/auth/lockout.ts); a lock ends every session of
 * the account on its next request (lib/auth/sessions.ts refuses sessions of locked users).
 *
 * Time comes from the application's clock (`now`), like the rest of the session record (lib/auth/sessions.ts).
 */

export interface StepUpOptions {
  /** How recent the second factor must be; defaults to `STEP_UP_WINDOW_SECONDS`. */
  withinSeconds?: number;
  now?: Date;
}

const payloadHashPattern = /^[0-9a-f]{64}$/;

function windowStart(options: StepUpOptions): { now: Date; cutoff: Date } {
  const now = options.now ?? new Date();
  const withinSeconds = options.withinSeconds ?? env().stepUpWindowSeconds;
  return { now, cutoff: new Date(now.getTime() - withinSeconds * 1000) };
}

function assertSessionActor(actor: SessionActor): void {
  // Types are not validation: only a person in a session can step up.
  if (actor.kind !== "customer" && actor.kind !== "staff") throw new BankError("not_found");
}

function stepUpRequired(reason: string): BankError {
  return new BankError("step_up_required", { internalMessage: `step-up required: ${reason}` });
}

/**
 * Throws BankError("step_up_required") unless this session completed a second factor within the window.
 * `reason` names the action for the logs (for example `regenerate_recovery_codes`); it is never shown.
 */
export async function requireStepUp(actor: SessionActor, reason: string, options: StepUpOptions = {}): Promise<void> {
  assertSessionActor(actor);
  const { now, cutoff } = windowStart(options);
  const [session] = await database()
    .select({ secondFactorAt: sessions.secondFactorAt })
    .from(sessions)
    .where(and(eq(sessions.id, actor.sessionId), eq(sessions.userId, actor.userId), isNull(sessions.revokedAt)))
    .limit(1);
  const secondFactorAt = session?.secondFactorAt;
  // A moment in the future is as suspicious as one too long ago: neither counts.
  if (!secondFactorAt || secondFactorAt < cutoff || secondFactorAt > now) throw stepUpRequired(reason);
}

/**
 * The hash that binds a confirmation to one request: SHA-256 over the payload's entries sorted by name, each
 * value tagged with its type (so the amount 100 and the text "100" differ). Name the action in the payload
 * itself (for example `{ action: "transfer", fromAccountId, toAccountId, amountMinor }`), so that payloads of
 * two different actions can never collide.
 */
export function stepUpPayloadHash(payload: Readonly<Record<string, string | number | bigint | boolean | null>>): string {
  const entries = Object.keys(payload)
    .sort()
    .map((key) => {
      const value = payload[key] ?? null;
      return [key, value === null ? "null" : typeof value, String(value)];
    });
  return crypto.createHash("sha256").update(JSON.stringify(["harbour-bank:step-up:v1", entries]), "utf8").digest("hex");
}

/**
 * Confirms a step-up with a code from the authenticator app. Without `payloadHash`, it sets the session's
 * `second_factor_at` (every action needing a recent second factor is then allowed for the window); with one, it
 * records a confirmation for that payload only, leaving the session-wide state alone.
 *
 * The code is replay-protected (lib/auth/totp.ts): a code already used, for sign-in or for another step-up, is
 * refused. Refusals:
 * - malformed input: BankError("invalid_input"), not counted;
 * - a wrong code: counted towards the lock, BankError("invalid_input") with a field error; the attempt that
 *   begins a lock answers BankError("unauthenticated"), since the lock ends this session too;
 * - a locked account: recorded (not counted), BankError("unauthenticated");
 * - no authenticator: BankError("step_up_required") saying so.
 */
export async function confirmStepUp(
  actor: SessionActor,
  code: string,
  payloadHash?: string,
  options: { now?: Date } = {},
): Promise<void> {
  assertSessionActor(actor);
  if (payloadHash !== undefined && !payloadHashPattern.test(payloadHash)) {
    throw new BankError("internal", { internalMessage: "step-up payload hash is not a SHA-256 in hex" });
  }
  const now = options.now ?? new Date();
  const context = { ipAddress: actor.ipAddress, userAgent: actor.userAgent };
  const [user] = await database()
    .select({ lockedUntil: users.lockedUntil })
    .from(users)
    .where(eq(users.id, actor.userId))
    .limit(1);
  if (!user) throw new BankError("unauthenticated");
  if (isLockedAt(user.lockedUntil, now)) {
    await recordFailedAttempt(actor.userId, "locked", context, "step_up");
    throw new BankError("unauthenticated");
  }

  const outcome = await database().transaction(async (tx) => {
    const verification = await verifyTotpForUser(tx, actor.userId, code, now);
    if (!verification.valid) return verification.reason;
    if (payloadHash === undefined) {
      const marked = await tx
        .update(sessions)
        .set({ secondFactorAt: now })
        .where(and(eq(sessions.id, actor.sessionId), eq(sessions.userId, actor.userId), isNull(sessions.revokedAt)))
        .returning({ id: sessions.id });
      // The session ended meanwhile: roll back, so the code's step is not spent on nothing.
      if (marked.length !== 1) throw new BankError("unauthenticated");
    } else {
      await tx.insert(stepUpConfirmations).values({
        id: crypto.randomUUID(),
        sessionId: actor.sessionId,
        payloadHash,
        confirmedAt: now,
      });
    }
    // A proven second factor ends a run of failures, exactly as a successful sign-in does.
    await tx.update(users).set({ failedSignInCount: 0 }).where(eq(users.id, actor.userId));
    await recordAuditEvent(tx, {
      actorId: actor.userId,
      actorRole: actor.role,
      action: "auth.step_up.confirmed",
      targetType: "session",
      targetId: actor.sessionId,
      ...context,
      details: { boundToPayload: payloadHash !== undefined },
    });
    return "confirmed" as const;
  });

  switch (outcome) {
    case "confirmed":
      return;
    case "malformed":
      throw new BankError("invalid_input", { fieldErrors: { code: ["Enter the 6-digit code from your authenticator app."] } });
    case "not_enrolled":
      throw new BankError("step_up_required", {
        userMessage: "Set up an authenticator app on the Security page first.",
        internalMessage: "step-up without an enrolled authenticator",
      });
    case "wrong_code": {
      // Counted outside the verification transaction: the lockout opens its own (and PGlite must never see the
      // outer handle used inside a transaction, STACK-NOTES trap 6).
      const lockedNow = await recordFailedAttempt(actor.userId, "second_factor_failed", context, "step_up");
      if (lockedNow) throw new BankError("unauthenticated");
      throw new BankError("invalid_input", {
        fieldErrors: { code: ["That code is not correct. Wait for a new code and try again."] },
      });
    }
  }
}

/**
 * Spends one unused confirmation made in this session for exactly this payload within the window, or throws
 * BankError("step_up_required"). The conditional UPDATE is the spend: of two parallel requests for the same
 * payload, one gets the confirmation and the other is asked to confirm again.
 */
export async function requireStepUpForPayload(
  actor: SessionActor,
  payloadHash: string,
  options: StepUpOptions = {},
): Promise<void> {
  assertSessionActor(actor);
  if (!payloadHashPattern.test(payloadHash)) throw stepUpRequired("malformed payload hash");
  const { now, cutoff } = windowStart(options);
  const db = database();
  const liveSessionOfActor = db
    .select({ id: sessions.id })
    .from(sessions)
    .where(and(eq(sessions.id, actor.sessionId), eq(sessions.userId, actor.userId), isNull(sessions.revokedAt)));
  const newestMatching = db
    .select({ id: stepUpConfirmations.id })
    .from(stepUpConfirmations)
    .where(
      and(
        eq(stepUpConfirmations.sessionId, actor.sessionId),
        eq(stepUpConfirmations.payloadHash, payloadHash),
        isNull(stepUpConfirmations.usedAt),
        gt(stepUpConfirmations.confirmedAt, cutoff),
        lte(stepUpConfirmations.confirmedAt, now),
      ),
    )
    .orderBy(desc(stepUpConfirmations.confirmedAt))
    .limit(1);
  const spent = await db
    .update(stepUpConfirmations)
    .set({ usedAt: now })
    .where(
      and(
        inArray(stepUpConfirmations.id, newestMatching),
        // Checked again on the row itself: a parallel request that spent it first makes this match nothing.
        isNull(stepUpConfirmations.usedAt),
        inArray(stepUpConfirmations.sessionId, liveSessionOfActor),
      ),
    )
    .returning({ id: stepUpConfirmations.id });
  if (spent.length !== 1) throw stepUpRequired("no unused confirmation for this payload");
}
