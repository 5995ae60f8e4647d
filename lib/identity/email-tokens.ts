import "server-only";
import { and, eq, gt, isNull, ne } from "drizzle-orm";
import { database, type Transaction } from "@/db/client";
import { users, userTokens } from "@/db/schema";
import type { RequestContext } from "@/lib/auth/actor";
import { recordAuditEvent } from "@/lib/audit/record-audit-event";
import { openCheckingAccount } from "@/lib/accounts/open-account";
import { decryptField, encryptField } from "@/lib/crypto";
import { isUniqueViolation } from "@/lib/database-errors";
import { BankError } from "@/lib/errors";
import { claimEmailAddress } from "@/lib/identity/email-uniqueness";
import { hashToken, tokenPattern } from "@/lib/identity/tokens";
import { enqueueEmail } from "@/lib/mail/outbox";
import { scheduleEmailDelivery } from "@/lib/mail/schedule-delivery";

export type ConfirmedEmail = { outcome: "registration_verified" } | { outcome: "email_changed" };

const invalidLink = () =>
  new BankError("not_found", { userMessage: "This link is invalid, has already been used or has expired." });

/**
 * Follows an emailed confirmation link: the verification of a new registration, or the confirmation of a new
 * address. The token is claimed with a row lock and marked used in the same transaction as its effect, so a
 * link followed twice at once takes effect once. Every failure (unknown, used, expired, malformed) gives the
 * same answer.
 */
export async function confirmEmailToken(token: string, context: RequestContext): Promise<ConfirmedEmail> {
  if (!tokenPattern.test(token)) throw invalidLink();
  const tokenHash = hashToken(token);
  try {
    const result = await database().transaction(async (tx) => {
      const [claimed] = await tx
        .select()
        .from(userTokens)
        .where(
          and(
            eq(userTokens.tokenHash, tokenHash),
            isNull(userTokens.usedAt),
            gt(userTokens.expiresAt, new Date()),
            ne(userTokens.purpose, "password_reset"),
          ),
        )
        .for("update")
        .limit(1);
      if (!claimed) throw invalidLink();
      await tx.update(userTokens).set({ usedAt: new Date() }).where(eq(userTokens.id, claimed.id));
      if (claimed.purpose === "email_verification") {
        await verifyRegistration(tx, claimed.userId, context);
        return { outcome: "registration_verified" } as const;
      }
      await applyEmailChange(tx, claimed, context);
      return { outcome: "email_changed" } as const;
    });
    scheduleEmailDelivery();
    return result;
  } catch (error) {
    // The new address was taken by another account between the request and the confirmation.
    if (isUniqueViolation(error)) {
      throw new BankError("conflict", { userMessage: "That email address can no longer be used.", cause: error });
    }
    throw error;
  }
}

async function verifyRegistration(tx: Transaction, userId: string, context: RequestContext): Promise<void> {
  const verified = await tx
    .update(users)
    .set({ emailVerifiedAt: new Date() })
    .where(and(eq(users.id, userId), isNull(users.emailVerifiedAt), eq(users.role, "customer")))
    .returning({ id: users.id });
  if (verified.length !== 1) throw invalidLink();
  // The account that holds money exists only for customers who proved they own their address.
  const accountId = await openCheckingAccount(tx, userId);
  await recordAuditEvent(tx, {
    actorId: userId,
    actorRole: "customer",
    action: "identity.registration.verified",
    targetType: "user",
    targetId: userId,
    ...context,
    details: { accountId },
  });
}

async function applyEmailChange(
  tx: Transaction,
  claimed: typeof userTokens.$inferSelect,
  context: RequestContext,
): Promise<void> {
  if (claimed.purpose !== "email_change" || !claimed.newEmailCiphertext || !claimed.newEmailBlindIndex) {
    throw invalidLink();
  }
  const newEmail = await decryptField(claimed.newEmailCiphertext, {
    table: "user_tokens",
    column: "new_email",
    rowId: claimed.id,
  });
  // The index is computed again now rather than copied from the token: the token's may be under a key version
  // that was current when the change was requested. The address lock is taken before the user's row lock,
  // in the same order as registration (lock, then rows), so that the two cannot deadlock.
  const claim = await claimEmailAddress(tx, newEmail);
  if (claim.holders.some((holder) => holder.id !== claimed.userId)) {
    // The new address was taken by another account between the request and the confirmation, perhaps under
    // another blind-index version, where the unique constraint could not see it.
    throw new BankError("conflict", { userMessage: "That email address can no longer be used." });
  }
  const [user] = await tx
    .select({ id: users.id, emailCiphertext: users.emailCiphertext })
    .from(users)
    .where(eq(users.id, claimed.userId))
    .for("update")
    .limit(1);
  if (!user) throw invalidLink();
  const oldEmail = await decryptField(user.emailCiphertext, { table: "users", column: "email", rowId: user.id });
  await tx
    .update(users)
    .set({
      emailCiphertext: await encryptField(newEmail, { table: "users", column: "email", rowId: user.id }),
      emailBlindIndex: claim.index,
      emailVerifiedAt: new Date(),
    })
    .where(eq(users.id, user.id));
  await enqueueEmail(tx, { userId: user.id, email: oldEmail }, { template: "email_changed" });
  await recordAuditEvent(tx, {
    actorId: user.id,
    actorRole: "customer",
    action: "identity.email.changed",
    targetType: "user",
    targetId: user.id,
    ...context,
  });
}
