import "server-only";
import { and, eq, isNotNull } from "drizzle-orm";
import { database } from "@/db/client";
import { users } from "@/db/schema";
import type { SessionActor } from "@/lib/auth/actor";
import { recordAuditEvent } from "@/lib/audit/record-audit-event";
import { isLockedAt, recordFailedAttempt } from "@/lib/auth/lockout";
import { verifyPassword } from "@/lib/auth/password";
import { normaliseRecoveryCode, remainingRecoveryCodes, useRecoveryCode } from "@/lib/auth/recovery-codes";
import {
  generateTotpSecret,
  isTotpCodeShaped,
  matchTotpCode,
  saveTotpEnrolment,
  type TotpProvisioning,
  totpProvisioning,
  verifyTotpForUser,
} from "@/lib/auth/totp";
import { decryptField, encryptField, type FieldContext } from "@/lib/crypto";
import { BankError } from "@/lib/errors";
import { scheduleEmailDelivery } from "@/lib/mail/schedule-delivery";

/**
 * Replacing the authenticator app (a new phone), in two steps:
 *
 * 1. `startAuthenticatorReplacement`: the password AND a proof of the current second factor (a code from the
 *    current authenticator, or one recovery code when the old phone is gone). A session alone is never enough,
 *    because whoever controls the authenticator controls every step-up. Wrong passwords and wrong codes count
 *    towards the same lock as at sign-in. On success a new secret is kept as *pending* on the user row and its
 *    QR code is returned; the enrolled secret keeps working meanwhile.
 * 2. `confirmAuthenticatorReplacement`: the first code of the new authenticator, within ten minutes. Then the
 *    new secret replaces the old one in one transaction (saveTotpEnrolment "replacement", which also queues the
 *    "authenticator replaced" email), so every code of the old authenticator stops working at once.
 *
 * A pending secret older than `pendingReplacementLifetimeSeconds` is refused and cleared: whoever scanned it
 * long ago must prove themselves again.
 */

export const pendingReplacementLifetimeSeconds = 10 * 60;

/** The pending secret is bound to its own column, so its ciphertext can never be swapped in for the enrolled one. */
export function pendingTotpSecretField(userId: string): FieldContext {
  return { table: "users", column: "pending_totp_secret", rowId: userId };
}

function assertSessionActor(actor: SessionActor): void {
  // Types are not validation: only a person in a session has an authenticator to replace.
  if (actor.kind !== "customer" && actor.kind !== "staff") throw new BankError("not_found");
}

function contextOf(actor: SessionActor) {
  return { ipAddress: actor.ipAddress, userAgent: actor.userAgent };
}

const wrongPassword = () =>
  new BankError("invalid_input", { fieldErrors: { password: ["Your password is not correct."] } });
const wrongSecondFactor = () =>
  new BankError("invalid_input", {
    fieldErrors: { code: ["That code is not correct. Use a new code from your current authenticator app or an unused recovery code."] },
  });

/**
 * Counts a wrong password or code towards the lock. The attempt that begins a lock answers "unauthenticated":
 * the lock ends this session on its next request too (lib/auth/sessions.ts).
 */
async function refuse(actor: SessionActor, error: BankError): Promise<never> {
  const lockedNow = await recordFailedAttempt(actor.userId, "second_factor_failed", contextOf(actor), "step_up");
  if (lockedNow) throw new BankError("unauthenticated");
  throw error;
}

/**
 * Step 1: checks the password and the current second factor, then keeps a new pending secret and returns what
 * the screen shows (QR code as a server-rendered SVG data URL, and the secret as text). `secondFactor` is a
 * 6-digit code from the current authenticator or a recovery code (which is spent, and its owner emailed).
 */
export async function startAuthenticatorReplacement(
  actor: SessionActor,
  input: { password: string; secondFactor: string },
  now: Date = new Date(),
): Promise<TotpProvisioning> {
  assertSessionActor(actor);
  const [user] = await database()
    .select({
      passwordHash: users.passwordHash,
      emailCiphertext: users.emailCiphertext,
      lockedUntil: users.lockedUntil,
      enrolledAt: users.totpEnrolledAt,
    })
    .from(users)
    .where(eq(users.id, actor.userId))
    .limit(1);
  if (!user) throw new BankError("unauthenticated");
  if (isLockedAt(user.lockedUntil, now)) {
    await recordFailedAttempt(actor.userId, "locked", contextOf(actor), "step_up");
    throw new BankError("unauthenticated");
  }
  if (!user.enrolledAt) {
    throw new BankError("invalid_input", {
      userMessage: "There is no authenticator to replace yet.",
      internalMessage: "authenticator replacement without an enrolment",
    });
  }

  // The password is checked first so that a valid code or recovery code is never spent next to a wrong password.
  if (!(await verifyPassword(user.passwordHash, input.password))) return refuse(actor, wrongPassword());

  const factor = input.secondFactor.trim();
  if (isTotpCodeShaped(factor)) {
    const verification = await verifyTotpForUser(database(), actor.userId, factor, now);
    if (!verification.valid) return refuse(actor, wrongSecondFactor());
  } else if (normaliseRecoveryCode(factor) !== null) {
    const use = await useRecoveryCode(database(), actor.userId, factor, contextOf(actor));
    if (!use.used) return refuse(actor, wrongSecondFactor());
    scheduleEmailDelivery();
  } else {
    // Neither a code nor a recovery code in shape: a typing mistake, not a guess, so it is not counted.
    throw wrongSecondFactor();
  }

  const secret = generateTotpSecret();
  await database().transaction(async (tx) => {
    await tx
      .update(users)
      .set({
        pendingTotpSecretCiphertext: await encryptField(secret, pendingTotpSecretField(actor.userId), "mfa"),
        pendingTotpCreatedAt: now,
        // The second factor just proved ends a run of failures, as a step-up does.
        failedSignInCount: 0,
      })
      .where(eq(users.id, actor.userId));
    await recordAuditEvent(tx, {
      actorId: actor.userId,
      actorRole: actor.role,
      action: "auth.authenticator_replacement.started",
      targetType: "user",
      targetId: actor.userId,
      ...contextOf(actor),
    });
  });
  const email = await decryptField(user.emailCiphertext, { table: "users", column: "email", rowId: actor.userId });
  return totpProvisioning(secret, email);
}

/**
 * Step 2: the first code from the new authenticator. A wrong code changes nothing and is not counted: only
 * someone who passed step 1 has seen the new secret, so a wrong code here is a scanning or typing mistake.
 * Refuses (and clears) a pending secret older than ten minutes.
 */
export async function confirmAuthenticatorReplacement(
  actor: SessionActor,
  code: string,
  now: Date = new Date(),
): Promise<void> {
  assertSessionActor(actor);
  const outcome = await database().transaction(async (tx) => {
    const [user] = await tx
      .select({ pending: users.pendingTotpSecretCiphertext, pendingCreatedAt: users.pendingTotpCreatedAt })
      .from(users)
      .where(and(eq(users.id, actor.userId), isNotNull(users.pendingTotpSecretCiphertext)))
      .for("update")
      .limit(1);
    if (!user?.pending || !user.pendingCreatedAt) return "none" as const;
    const age = now.getTime() - user.pendingCreatedAt.getTime();
    if (age > pendingReplacementLifetimeSeconds * 1000 || age < 0) {
      await tx
        .update(users)
        .set({ pendingTotpSecretCiphertext: null, pendingTotpCreatedAt: null })
        .where(eq(users.id, actor.userId));
      return "expired" as const;
    }
    const secret = await decryptField(user.pending, pendingTotpSecretField(actor.userId), "mfa");
    const timeStep = await matchTotpCode(secret, code, { now });
    if (timeStep === null) return "wrong_code" as const;
    const saved = await saveTotpEnrolment(tx, { userId: actor.userId, secret, confirmedTimeStep: timeStep, mode: "replacement" });
    if (!saved) return "none" as const;
    await tx
      .update(users)
      .set({ pendingTotpSecretCiphertext: null, pendingTotpCreatedAt: null })
      .where(eq(users.id, actor.userId));
    await recordAuditEvent(tx, {
      actorId: actor.userId,
      actorRole: actor.role,
      action: "auth.authenticator.replaced",
      targetType: "user",
      targetId: actor.userId,
      ...contextOf(actor),
    });
    return "replaced" as const;
  });
  switch (outcome) {
    case "replaced":
      // The email was queued in the transaction; deliver it now that it is committed.
      scheduleEmailDelivery();
      return;
    case "wrong_code":
      throw new BankError("invalid_input", {
        fieldErrors: { code: ["That code is not correct. Enter the current code shown by the new authenticator app."] },
      });
    case "expired":
    case "none":
      throw new BankError("invalid_input", {
        userMessage: "This replacement has expired. Start again with your password and a code.",
        internalMessage: `authenticator replacement confirm: ${outcome}`,
      });
  }
}

/** What the Security page shows about the second factor: a DTO, never a secret. */
export interface MySecondFactorStatus {
  enrolledAt: Date | null;
  recoveryCodesLeft: number;
}

export async function mySecondFactorStatus(actor: SessionActor): Promise<MySecondFactorStatus> {
  assertSessionActor(actor);
  const [user] = await database()
    .select({ enrolledAt: users.totpEnrolledAt })
    .from(users)
    .where(eq(users.id, actor.userId))
    .limit(1);
  if (!user) throw new BankError("unauthenticated");
  return { enrolledAt: user.enrolledAt, recoveryCodesLeft: await remainingRecoveryCodes(actor.userId) };
}
