import "server-only";
import crypto from "node:crypto";
import { and, desc, eq, inArray, isNull } from "drizzle-orm";
import { database } from "@/db/client";
import { sessions, signInEvents, users, userTokens } from "@/db/schema";
import type { SessionActor } from "@/lib/auth/session";
import { recordAuditEvent } from "@/lib/audit/record-audit-event";
import { hashPassword, verifyPassword } from "@/lib/auth/password";
import { revokeOtherSessions } from "@/lib/auth/sessions";
import { blindIndex, blindIndexLookup, decryptField, encryptField, normaliseEmail } from "@/lib/crypto";
import { env } from "@/lib/env";
import { BankError } from "@/lib/errors";
import { assertPasswordAcceptable } from "@/lib/identity/password-acceptance";
import { issueToken } from "@/lib/identity/tokens";
import { enqueueEmail } from "@/lib/mail/outbox";
import { scheduleEmailDelivery } from "@/lib/mail/schedule-delivery";

const wrongCurrentPassword = () =>
  new BankError("invalid_input", { fieldErrors: { currentPassword: ["Your current password is not correct."] } });

async function loadCredentials(userId: string) {
  const [user] = await database()
    .select({ id: users.id, role: users.role, passwordHash: users.passwordHash, emailCiphertext: users.emailCiphertext })
    .from(users)
    .where(eq(users.id, userId))
    .limit(1);
  // The session was valid a moment ago; a user missing now was deleted in between.
  if (!user) throw new BankError("unauthenticated");
  return user;
}

/**
 * Changes the signed-in user's password. The current password is required (a borrowed, unlocked screen must
 * not be enough), every other session is revoked so that whoever else was signed in is out on their next
 * request, this session stays, and the owner is notified.
 */
export async function changePassword(
  actor: SessionActor,
  input: { currentPassword: string; password: string },
): Promise<void> {
  const user = await loadCredentials(actor.userId);
  if (!(await verifyPassword(user.passwordHash, input.currentPassword))) {
    await recordAuditEvent(database(), {
      actorId: actor.userId,
      actorRole: actor.role,
      action: "identity.password_change.refused",
      targetType: "user",
      targetId: actor.userId,
      ipAddress: actor.ipAddress,
      userAgent: actor.userAgent,
      details: { reason: "wrong_current_password" },
    });
    throw wrongCurrentPassword();
  }
  await assertPasswordAcceptable(input.password, actor.userId);
  const passwordHash = await hashPassword(input.password);
  await database().transaction(async (tx) => {
    await tx.update(users).set({ passwordHash, passwordChangedAt: new Date() }).where(eq(users.id, actor.userId));
    await revokeOtherSessions(tx, actor.userId, actor.sessionId, "password_changed");
    const email = await decryptField(user.emailCiphertext, { table: "users", column: "email", rowId: user.id });
    await enqueueEmail(tx, { userId: user.id, email }, { template: "password_changed" });
    await recordAuditEvent(tx, {
      actorId: actor.userId,
      actorRole: actor.role,
      action: "identity.password.changed",
      targetType: "user",
      targetId: actor.userId,
      ipAddress: actor.ipAddress,
      userAgent: actor.userAgent,
    });
  });
  scheduleEmailDelivery();
}

/**
 * Asks to move the account to a new email address. Needs the password; the change happens only when the link
 * sent to the new address is followed (email-tokens.ts), and the old address is told now. If the new address
 * already belongs to an account, nothing is sent to it and the answer is the same, so that this form cannot be
 * used to find out who banks here.
 */
export async function requestEmailChange(
  actor: SessionActor,
  input: { currentPassword: string; newEmail: string },
): Promise<void> {
  if (actor.kind !== "customer") throw new BankError("not_found");
  const configuration = env();
  const user = await loadCredentials(actor.userId);
  if (!(await verifyPassword(user.passwordHash, input.currentPassword))) throw wrongCurrentPassword();
  const newEmail = normaliseEmail(input.newEmail);
  const newEmailIndex = await blindIndex("email", newEmail);
  // Whether the address is taken is asked under every live blind-index version (rows not yet reindexed after
  // a rotation); the confirmation checks again under the address lock (email-uniqueness.ts).
  const newEmailIndexes = await blindIndexLookup("email", newEmail);
  await database().transaction(async (tx) => {
    const oldEmail = await decryptField(user.emailCiphertext, { table: "users", column: "email", rowId: user.id });
    const [taken] = await tx
      .select({ id: users.id })
      .from(users)
      .where(inArray(users.emailBlindIndex, newEmailIndexes))
      .limit(1);
    await recordAuditEvent(tx, {
      actorId: actor.userId,
      actorRole: actor.role,
      action: "identity.email_change.requested",
      targetType: "user",
      targetId: actor.userId,
      ipAddress: actor.ipAddress,
      userAgent: actor.userAgent,
      details: { addressAvailable: !taken },
    });
    if (taken) return;
    // Only the newest change request is live.
    await tx
      .update(userTokens)
      .set({ usedAt: new Date() })
      .where(and(eq(userTokens.userId, user.id), eq(userTokens.purpose, "email_change"), isNull(userTokens.usedAt)));
    const tokenId = crypto.randomUUID();
    const { token, tokenHash } = issueToken();
    await tx.insert(userTokens).values({
      id: tokenId,
      userId: user.id,
      purpose: "email_change",
      tokenHash,
      expiresAt: new Date(Date.now() + configuration.emailVerificationTokenSeconds * 1000),
      newEmailCiphertext: await encryptField(newEmail, { table: "user_tokens", column: "new_email", rowId: tokenId }),
      newEmailBlindIndex: newEmailIndex,
    });
    await enqueueEmail(
      tx,
      { userId: user.id, email: newEmail },
      {
        template: "email_change_verification",
        link: `${configuration.appOrigin}/verify-email?token=${token}`,
        expiresInMinutes: Math.round(configuration.emailVerificationTokenSeconds / 60),
      },
    );
    await enqueueEmail(tx, { userId: user.id, email: oldEmail }, { template: "email_change_requested" });
  });
  scheduleEmailDelivery();
}

export interface LoginHistoryEntry {
  occurredAt: Date;
  outcome: "succeeded" | "unknown_account" | "wrong_password" | "locked" | "unverified" | "second_factor_failed";
  ipAddress: string | null;
  userAgent: string | null;
}

/** The signed-in user's own recent sign-in attempts, newest first. Only ever their own rows. */
export async function listMyLoginHistory(actor: SessionActor, limit = 20): Promise<LoginHistoryEntry[]> {
  const rows = await database()
    .select({
      occurredAt: signInEvents.occurredAt,
      outcome: signInEvents.outcome,
      ipAddress: signInEvents.ipAddress,
      userAgent: signInEvents.userAgent,
    })
    .from(signInEvents)
    .where(eq(signInEvents.userId, actor.userId))
    .orderBy(desc(signInEvents.occurredAt), desc(signInEvents.id))
    .limit(Math.min(Math.max(limit, 1), 100));
  return rows.map((row) => ({ ...row }));
}

/**
 * Whether to show "your account was locked" on this session's first page, and clears the flag so it shows
 * once. The flag was set at sign-in when a lock happened after the previous successful sign-in.
 */
export async function takeLockNotice(actor: SessionActor): Promise<boolean> {
  const cleared = await database()
    .update(sessions)
    .set({ showLockNotice: false })
    .where(and(eq(sessions.id, actor.sessionId), eq(sessions.userId, actor.userId), eq(sessions.showLockNotice, true)))
    .returning({ id: sessions.id });
  return cleared.length > 0;
}

/**
 * The signed-in user's own name, email and date of birth, decrypted for the password-change form, which gives
 * them to zxcvbn so that a new password built from them is refused while typing. Only ever the actor's own.
 */
export async function myPasswordCheckInputs(
  actor: SessionActor,
): Promise<{ legalName: string; email: string; dateOfBirth: string | undefined }> {
  const [user] = await database()
    .select({
      emailCiphertext: users.emailCiphertext,
      legalNameCiphertext: users.legalNameCiphertext,
      dateOfBirthCiphertext: users.dateOfBirthCiphertext,
    })
    .from(users)
    .where(eq(users.id, actor.userId))
    .limit(1);
  if (!user) throw new BankError("unauthenticated");
  const fieldOf = (column: string) => ({ table: "users", column, rowId: actor.userId });
  return {
    legalName: await decryptField(user.legalNameCiphertext, fieldOf("legal_name")),
    email: await decryptField(user.emailCiphertext, fieldOf("email")),
    dateOfBirth: user.dateOfBirthCiphertext
      ? await decryptField(user.dateOfBirthCiphertext, fieldOf("date_of_birth"))
      : undefined,
  };
}
