import "server-only";
import crypto from "node:crypto";
import { and, eq, gt, inArray, isNull, isNotNull } from "drizzle-orm";
import { database } from "@/db/client";
import { users, userTokens } from "@/db/schema";
import type { RequestContext } from "@/lib/auth/actor";
import { recordAuditEvent } from "@/lib/audit/record-audit-event";
import { hashPassword } from "@/lib/auth/password";
import { revokeAllSessions } from "@/lib/auth/sessions";
import { blindIndexLookup, decryptField, normaliseEmail } from "@/lib/crypto";
import { env } from "@/lib/env";
import { BankError } from "@/lib/errors";
import { assertPasswordAcceptable } from "@/lib/identity/password-acceptance";
import { hashToken, issueToken, tokenPattern } from "@/lib/identity/tokens";
import { enqueueEmail } from "@/lib/mail/outbox";
import { scheduleEmailDelivery } from "@/lib/mail/schedule-delivery";

/**
 * Starts a password reset. The caller answers the same sentence whether or not the address has an account;
 * only a verified account's owner receives a link. Earlier unused reset links of that account stop working,
 * so that only the newest email in the inbox is live.
 */
export async function requestPasswordReset(email: string, context: RequestContext): Promise<void> {
  const configuration = env();
  // Every live blind-index version, so that an account not yet reindexed after a rotation is found.
  const emailIndexes = await blindIndexLookup("email", normaliseEmail(email));
  await database().transaction(async (tx) => {
    const [user] = await tx
      .select({ id: users.id, role: users.role, emailCiphertext: users.emailCiphertext })
      .from(users)
      .where(and(inArray(users.emailBlindIndex, emailIndexes), isNotNull(users.emailVerifiedAt)))
      .limit(1);
    if (!user) return;
    await tx
      .update(userTokens)
      .set({ usedAt: new Date() })
      .where(and(eq(userTokens.userId, user.id), eq(userTokens.purpose, "password_reset"), isNull(userTokens.usedAt)));
    const { token, tokenHash } = issueToken();
    await tx.insert(userTokens).values({
      id: crypto.randomUUID(),
      userId: user.id,
      purpose: "password_reset",
      tokenHash,
      expiresAt: new Date(Date.now() + configuration.passwordResetTokenSeconds * 1000),
    });
    const recipient = await decryptField(user.emailCiphertext, { table: "users", column: "email", rowId: user.id });
    await enqueueEmail(
      tx,
      { userId: user.id, email: recipient },
      {
        template: "password_reset",
        link: `${configuration.appOrigin}/reset-password?token=${token}`,
        expiresInMinutes: Math.round(configuration.passwordResetTokenSeconds / 60),
      },
    );
    await recordAuditEvent(tx, {
      actorId: null,
      actorRole: null,
      action: "identity.password_reset.requested",
      targetType: "user",
      targetId: user.id,
      ...context,
    });
  });
  scheduleEmailDelivery();
}

const invalidLink = () =>
  new BankError("not_found", { userMessage: "This reset link is invalid, has already been used or has expired." });

/** Whether a reset link is still usable, for the page that shows the form (it changes nothing). */
export async function isPasswordResetTokenUsable(token: string): Promise<boolean> {
  if (!tokenPattern.test(token)) return false;
  const [row] = await database()
    .select({ id: userTokens.id })
    .from(userTokens)
    .where(
      and(
        eq(userTokens.tokenHash, hashToken(token)),
        eq(userTokens.purpose, "password_reset"),
        isNull(userTokens.usedAt),
        gt(userTokens.expiresAt, new Date()),
      ),
    )
    .limit(1);
  return Boolean(row);
}

/**
 * Completes a reset: a new password, the token used up, every session of the account revoked (a reset is what
 * a customer does when someone else may be signed in), the lockout cleared (the customer has just proved
 * control of the address), and a notice sent. All in one transaction.
 */
export async function resetPassword(input: { token: string; password: string }, context: RequestContext): Promise<void> {
  if (!tokenPattern.test(input.token)) throw invalidLink();
  const tokenHash = hashToken(input.token);
  const [candidate] = await database()
    .select({ userId: userTokens.userId })
    .from(userTokens)
    .where(and(eq(userTokens.tokenHash, tokenHash), eq(userTokens.purpose, "password_reset")))
    .limit(1);
  if (!candidate) throw invalidLink();
  await assertPasswordAcceptable(input.password, candidate.userId);
  const passwordHash = await hashPassword(input.password);
  await database().transaction(async (tx) => {
    const [claimed] = await tx
      .select({ id: userTokens.id, userId: userTokens.userId })
      .from(userTokens)
      .where(
        and(
          eq(userTokens.tokenHash, tokenHash),
          eq(userTokens.purpose, "password_reset"),
          isNull(userTokens.usedAt),
          gt(userTokens.expiresAt, new Date()),
        ),
      )
      .for("update")
      .limit(1);
    if (!claimed) throw invalidLink();
    await tx.update(userTokens).set({ usedAt: new Date() }).where(eq(userTokens.id, claimed.id));
    const [user] = await tx
      .update(users)
      .set({ passwordHash, passwordChangedAt: new Date(), failedSignInCount: 0, lockedUntil: null })
      .where(eq(users.id, claimed.userId))
      .returning({ id: users.id, role: users.role, emailCiphertext: users.emailCiphertext });
    if (!user) throw invalidLink();
    await revokeAllSessions(tx, user.id, "password_reset");
    const recipient = await decryptField(user.emailCiphertext, { table: "users", column: "email", rowId: user.id });
    await enqueueEmail(tx, { userId: user.id, email: recipient }, { template: "password_changed" });
    await recordAuditEvent(tx, {
      actorId: user.id,
      actorRole: user.role,
      action: "identity.password_reset.completed",
      targetType: "user",
      targetId: user.id,
      ...context,
    });
  });
  scheduleEmailDelivery();
}
