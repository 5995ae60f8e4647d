import "server-only";
import crypto from "node:crypto";
import { and, count, eq, isNull } from "drizzle-orm";
import { database, type Queryable } from "@/db/client";
import { recoveryCodes, users } from "@/db/schema";
import type { RequestContext, SessionActor } from "@/lib/auth/actor";
import { recordAuditEvent } from "@/lib/audit/record-audit-event";
import { requireStepUpForPayload } from "@/lib/auth/step-up";
import { stepUpOperationHash } from "@/lib/auth/step-up-operations";
import { decryptField } from "@/lib/crypto";
import { enqueueEmail } from "@/lib/mail/outbox";

/**
 * One-time recovery codes: the way back in for a customer who has lost their authenticator app.
 *
 * A set holds 10 codes of 15 characters from a 32-symbol alphabet without look-alikes (no I, O, 0 or 1), shown
 * in three groups of five (`ABCDE-FGHJK-LMNPQ`). Each code carries 75 random bits. That is why a fast hash is
 * enough to store them: a slow hash protects secrets people choose, whose few bits can be tried one by one; to
 * find one code of a stolen set by trying SHA-256 at 10^10 guesses a second takes about 10^11 seconds (thousands
 * of years), while argon2 at the password parameters would cost 10 × 38 ms for every new set and make every
 * attempt as expensive as a password check. The user id is part of the hashed text, so equal hashes in two
 * accounts mean nothing and one computation never tests a guess against everybody's codes.
 *
 * Online guessing is bounded by the lockout instead: a wrong code counts like a wrong password.
 */

export const recoveryCodeCount = 10;
/** When this many codes or fewer are left, the owner is told to make a new set. */
export const recoveryCodesLowThreshold = 2;

const alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
const groupLength = 5;
const groupCount = 3;
// The same 32 symbols as `alphabet`, fifteen of them: what a code is once spaces and dashes are gone.
const normalisedCodePattern = /^[A-HJ-NP-Z2-9]{15}$/;
// Spaces of every kind, and the hyphen, dashes and minus sign that phones and word processors substitute.
const separators = /[\s\u002d\u2010-\u2015\u2212]/g;

/** One new code, grouped for reading (`ABCDE-FGHJK-LMNPQ`). */
export function generateRecoveryCode(): string {
  const groups: string[] = [];
  for (let group = 0; group < groupCount; group += 1) {
    let text = "";
    for (let index = 0; index < groupLength; index += 1) text += alphabet[crypto.randomInt(alphabet.length)];
    groups.push(text);
  }
  return groups.join("-");
}

/**
 * A code as typed, reduced to its 15 symbols: case, spaces and dashes do not matter, and full-width characters
 * (from some phone keyboards) count as their plain forms. Null when what is left cannot be a code.
 */
export function normaliseRecoveryCode(input: string): string | null {
  const compact = input.normalize("NFKC").replace(separators, "").toUpperCase();
  return normalisedCodePattern.test(compact) ? compact : null;
}

/** The stored form of a normalised code for one user. */
export function hashRecoveryCode(userId: string, normalisedCode: string): string {
  return crypto.createHash("sha256").update(`harbour-bank:recovery-code:v1:${userId}:${normalisedCode}`, "utf8").digest("hex");
}

/**
 * Replaces the user's recovery codes with a new set and returns the new codes, which exist in plain text only
 * in this return value: show them once. Every old code, used or not, stops working in the same transaction.
 */
export async function regenerateRecoveryCodes(queryable: Queryable, userId: string): Promise<string[]> {
  const codes = new Set<string>();
  while (codes.size < recoveryCodeCount) codes.add(generateRecoveryCode());
  const fresh = [...codes];
  await queryable.transaction(async (tx) => {
    await tx.delete(recoveryCodes).where(eq(recoveryCodes.userId, userId));
    await tx.insert(recoveryCodes).values(
      fresh.map((code) => ({
        id: crypto.randomUUID(),
        userId,
        codeHash: hashRecoveryCode(userId, normaliseRecoveryCode(code) ?? code),
      })),
    );
  });
  return fresh;
}

/** How many of the user's recovery codes are still unused. */
export async function remainingRecoveryCodes(userId: string, queryable: Queryable = database()): Promise<number> {
  const [row] = await queryable
    .select({ remaining: count() })
    .from(recoveryCodes)
    .where(and(eq(recoveryCodes.userId, userId), isNull(recoveryCodes.usedAt)));
  return row?.remaining ?? 0;
}

export type RecoveryCodeUse =
  | { used: true; remaining: number }
  /** `malformed`: cannot be a code at all (not worth counting as a guess). `wrong_code`: unknown or already used. */
  | { used: false; reason: "malformed" | "wrong_code" };

/**
 * Spends one recovery code. The code is marked used by a conditional UPDATE (`used_at is null`), so a code
 * works once even when two requests present it at the same moment. On success the owner is emailed (and, when
 * `recoveryCodesLowThreshold` or fewer are left, told to make a new set) in the same transaction as the use, so
 * a used code is never unannounced. Runs as a transaction of its own, or as a savepoint inside the caller's;
 * the caller schedules delivery (scheduleEmailDelivery) after its commit. The use is recorded in the audit
 * trail (`auth.recovery_code.used`) in the same transaction. Failures are not counted here.
 */
export async function useRecoveryCode(
  queryable: Queryable,
  userId: string,
  code: string,
  context: RequestContext,
): Promise<RecoveryCodeUse> {
  const normalised = normaliseRecoveryCode(code);
  if (!normalised) return { used: false, reason: "malformed" };
  const codeHash = hashRecoveryCode(userId, normalised);
  return queryable.transaction(async (tx): Promise<RecoveryCodeUse> => {
    const spent = await tx
      .update(recoveryCodes)
      .set({ usedAt: new Date() })
      .where(and(eq(recoveryCodes.userId, userId), eq(recoveryCodes.codeHash, codeHash), isNull(recoveryCodes.usedAt)))
      .returning({ id: recoveryCodes.id });
    if (spent.length !== 1) return { used: false, reason: "wrong_code" };
    const remaining = await remainingRecoveryCodes(userId, tx);
    // Recorded here, in the transaction that spends the code, so that every use is in the audit trail whichever
    // flow spent it (a sign-in's second factor, an authenticator replacement).
    await recordAuditEvent(tx, {
      actorId: userId,
      actorRole: null,
      action: "auth.recovery_code.used",
      targetType: "user",
      targetId: userId,
      ...context,
      details: { remaining },
    });
    const [owner] = await tx
      .select({ emailCiphertext: users.emailCiphertext })
      .from(users)
      .where(eq(users.id, userId))
      .limit(1);
    if (owner) {
      const email = await decryptField(owner.emailCiphertext, { table: "users", column: "email", rowId: userId });
      await enqueueEmail(tx, { userId, email }, { template: "recovery_code_used", remaining });
      if (remaining <= recoveryCodesLowThreshold) {
        await enqueueEmail(tx, { userId, email }, { template: "recovery_codes_low", remaining });
      }
    }
    return { used: true, remaining };
  });
}

/**
 * The Security page's "new recovery codes": needs a code confirmed for exactly this operation in this session
 * (a stolen session must not be able to mint itself a way past the authenticator), replaces the set and
 * returns the new codes to show once. The confirmation is payload-bound and single use rather than the
 * session-wide window: a sign-in's second factor must not count, so that the code is always asked for this
 * very operation, and one confirmation makes one set.
 */
export async function regenerateMyRecoveryCodes(actor: SessionActor): Promise<string[]> {
  await requireStepUpForPayload(actor, stepUpOperationHash("regenerate_recovery_codes", actor));
  return database().transaction(async (tx) => {
    const codes = await regenerateRecoveryCodes(tx, actor.userId);
    await recordAuditEvent(tx, {
      actorId: actor.userId,
      actorRole: actor.role,
      action: "auth.recovery_codes.regenerated",
      targetType: "user",
      targetId: actor.userId,
      ipAddress: actor.ipAddress,
      userAgent: actor.userAgent,
      details: { count: codes.length },
    });
    return codes;
  });
}
