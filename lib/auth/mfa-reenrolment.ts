import "server-only";
import { and, eq, gt, isNotNull, isNull } from "drizzle-orm";
import { database } from "@/db/client";
import { mfaResetRequests, users, userTokens } from "@/db/schema";
import type { RequestContext } from "@/lib/auth/actor";
import { recordAuditEvent } from "@/lib/audit/record-audit-event";
import { pendingReplacementLifetimeSeconds, pendingTotpSecretField } from "@/lib/auth/authenticator-replacement";
import { isLockedAt, recordFailedAttempt } from "@/lib/auth/lockout";
import { verifyPassword } from "@/lib/auth/password";
import { regenerateRecoveryCodes } from "@/lib/auth/recovery-codes";
import {
  generateTotpSecret,
  matchTotpCode,
  saveTotpEnrolment,
  type TotpProvisioning,
  totpProvisioning,
} from "@/lib/auth/totp";
import { decryptField, encryptField } from "@/lib/crypto";
import { BankError } from "@/lib/errors";
import { hashToken, tokenPattern } from "@/lib/identity/tokens";
import { scheduleEmailDelivery } from "@/lib/mail/schedule-delivery";

/**
 * Enrolling a new authenticator after two staff members reset the second factor (lib/admin/mfa-reset). The
 * approval emailed a single-use link (a `user_tokens` row of purpose `mfa_reenrolment`, 24 hours, stored only as
 * a hash) to the customer's address, and marked the account so that a password sign-in cannot enrol
 * (lib/auth/sign-in-tickets.ts, lib/auth/totp.ts `saveTotpEnrolment`). The link is the only way back, and it
 * needs both halves: control of the email address (the token) and the password. In two steps, like replacing
 * an authenticator (lib/auth/authenticator-replacement.ts), whose pending-secret column and lifetime it reuses:
 *
 * 1. `startMfaReenrolment`: the token and the password. A wrong password counts towards the sign-in lock. On
 *    success a new secret is kept as pending on the user row and its QR code returned. The token is not spent.
 * 2. `completeMfaReenrolment`: the token and the first code of the new authenticator, within ten minutes. In
 *    one transaction the token is spent, the secret becomes the enrolled one, the mark is cleared, a new set of
 *    recovery codes is made (returned, shown once), the reset request is completed, the owner is emailed
 *    ("authenticator replaced"), and `auth.mfa.reenrolled_after_reset` is audited. The customer then signs in
 *    normally.
 */

export const mfaReenrolmentLinkLifetimeSeconds = 24 * 60 * 60;
export const mfaReenrolmentPath = "/reenrol-authenticator";

const invalidLink = () =>
  new BankError("not_found", { userMessage: "This link is invalid, has already been used or has expired." });

/** The live token's row condition: this token, for re-enrolment, unused, unexpired. */
function liveToken(token: string, now: Date) {
  return and(
    eq(userTokens.tokenHash, hashToken(token)),
    eq(userTokens.purpose, "mfa_reenrolment"),
    isNull(userTokens.usedAt),
    gt(userTokens.expiresAt, now),
  );
}

/** Whether a re-enrolment link is still usable, for the page that shows the form (it changes nothing). */
export async function isMfaReenrolmentTokenUsable(token: string, now: Date = new Date()): Promise<boolean> {
  if (!tokenPattern.test(token)) return false;
  const [row] = await database()
    .select({ id: userTokens.id })
    .from(userTokens)
    .innerJoin(users, eq(users.id, userTokens.userId))
    .where(and(liveToken(token, now), isNotNull(users.mfaReenrolmentRequiredAt)))
    .limit(1);
  return Boolean(row);
}

/** Step 1: checks the link and the password, then keeps a new pending secret and returns what to show. */
export async function startMfaReenrolment(
  input: { token: string; password: string },
  context: RequestContext,
  now: Date = new Date(),
): Promise<TotpProvisioning> {
  if (!tokenPattern.test(input.token)) throw invalidLink();
  const [user] = await database()
    .select({
      id: users.id,
      passwordHash: users.passwordHash,
      emailCiphertext: users.emailCiphertext,
      lockedUntil: users.lockedUntil,
    })
    .from(userTokens)
    .innerJoin(users, eq(users.id, userTokens.userId))
    .where(and(liveToken(input.token, now), isNotNull(users.mfaReenrolmentRequiredAt)))
    .limit(1);
  if (!user) throw invalidLink();
  if (isLockedAt(user.lockedUntil, now)) {
    await recordFailedAttempt(user.id, "locked", context);
    throw new BankError("invalid_input", {
      userMessage: "Your account is locked for a while after several failed attempts. Try again later.",
      internalMessage: "mfa re-enrolment while locked",
    });
  }
  if (!(await verifyPassword(user.passwordHash, input.password))) {
    await recordFailedAttempt(user.id, "wrong_password", context);
    throw new BankError("invalid_input", { fieldErrors: { password: ["Your password is not correct."] } });
  }
  const secret = generateTotpSecret();
  await database().transaction(async (tx) => {
    await tx
      .update(users)
      .set({
        pendingTotpSecretCiphertext: await encryptField(secret, pendingTotpSecretField(user.id), "mfa"),
        pendingTotpCreatedAt: now,
      })
      .where(and(eq(users.id, user.id), isNotNull(users.mfaReenrolmentRequiredAt)));
    await recordAuditEvent(tx, {
      actorId: user.id,
      actorRole: "customer",
      action: "auth.mfa.reenrolment_started",
      targetType: "user",
      targetId: user.id,
      ...context,
    });
  });
  const email = await decryptField(user.emailCiphertext, { table: "users", column: "email", rowId: user.id });
  return totpProvisioning(secret, email);
}

/**
 * Step 2: the first code from the new authenticator. A wrong code changes nothing and is not counted (only
 * someone who passed step 1 has seen the secret). Returns the new recovery codes, to be shown once.
 */
export async function completeMfaReenrolment(
  input: { token: string; code: string },
  context: RequestContext,
  now: Date = new Date(),
): Promise<{ recoveryCodes: string[] }> {
  if (!tokenPattern.test(input.token)) throw invalidLink();
  const codes = await database().transaction(async (tx) => {
    const [claimed] = await tx
      .select({ id: userTokens.id, userId: userTokens.userId })
      .from(userTokens)
      .where(liveToken(input.token, now))
      .for("update")
      .limit(1);
    if (!claimed) throw invalidLink();
    const [user] = await tx
      .select({ pending: users.pendingTotpSecretCiphertext, pendingCreatedAt: users.pendingTotpCreatedAt })
      .from(users)
      .where(and(eq(users.id, claimed.userId), isNotNull(users.mfaReenrolmentRequiredAt)))
      .for("update")
      .limit(1);
    if (!user) throw invalidLink();
    const age = user.pendingCreatedAt ? now.getTime() - user.pendingCreatedAt.getTime() : -1;
    if (!user.pending || age < 0 || age > pendingReplacementLifetimeSeconds * 1000) {
      throw new BankError("invalid_input", {
        userMessage: "This set-up has expired. Start again with your password.",
        internalMessage: "mfa re-enrolment without a live pending secret",
      });
    }
    const secret = await decryptField(user.pending, pendingTotpSecretField(claimed.userId), "mfa");
    const timeStep = await matchTotpCode(secret, input.code.trim(), { now });
    if (timeStep === null) {
      throw new BankError("invalid_input", {
        fieldErrors: { code: ["That code is not correct. Enter the current code shown by the new authenticator app."] },
      });
    }
    const saved = await saveTotpEnrolment(tx, {
      userId: claimed.userId,
      secret,
      confirmedTimeStep: timeStep,
      mode: "after_reset",
    });
    if (!saved) throw invalidLink();
    await tx
      .update(users)
      .set({ pendingTotpSecretCiphertext: null, pendingTotpCreatedAt: null, failedSignInCount: 0 })
      .where(eq(users.id, claimed.userId));
    await tx.update(userTokens).set({ usedAt: now }).where(eq(userTokens.id, claimed.id));
    const recoveryCodes = await regenerateRecoveryCodes(tx, claimed.userId);
    const completed = await tx
      .update(mfaResetRequests)
      .set({ status: "completed", completedAt: now })
      .where(and(eq(mfaResetRequests.reenrolmentTokenId, claimed.id), eq(mfaResetRequests.status, "approved")))
      .returning({ id: mfaResetRequests.id });
    await recordAuditEvent(tx, {
      actorId: claimed.userId,
      actorRole: "customer",
      action: "auth.mfa.reenrolled_after_reset",
      targetType: "user",
      targetId: claimed.userId,
      ...context,
      details: { requestId: completed[0]?.id ?? null },
    });
    return recoveryCodes;
  });
  // The "authenticator replaced" email was queued in the transaction; deliver it now that it is committed.
  scheduleEmailDelivery();
  return { recoveryCodes: codes };
}
