import "server-only";
import crypto from "node:crypto";
import { and, eq, isNull, lt } from "drizzle-orm";
import { database, type Queryable } from "@/db/client";
import { users, userTokens } from "@/db/schema";
import type { RequestContext } from "@/lib/auth/actor";
import { recordAuditEvent } from "@/lib/audit/record-audit-event";
import { hashPassword } from "@/lib/auth/password";
import { decryptField, encryptField, normaliseEmail } from "@/lib/crypto";
import { isUniqueViolation } from "@/lib/database-errors";
import { env } from "@/lib/env";
import { claimEmailAddress } from "@/lib/identity/email-uniqueness";
import { issueToken } from "@/lib/identity/tokens";
import { enqueueEmail } from "@/lib/mail/outbox";
import { scheduleEmailDelivery } from "@/lib/mail/schedule-delivery";

export interface RegistrationDetails {
  legalName: string;
  email: string;
  /** ISO date, yyyy-mm-dd, already checked by the registration schema. */
  dateOfBirth: string;
  password: string;
}

/**
 * Registers a customer without telling the caller whether the address was new. The caller always answers
 * "check your email"; what differs is only what the owner of the address receives:
 * - a new address gets an unverified user and a verification link (the account that holds money is opened
 *   only when the link is followed, see verify-email.ts);
 * - an address that belongs to a verified user gets a notice that someone tried to register with it, and
 *   nothing else is created or changed;
 * - an address with an earlier, still unverified registration has that registration replaced: whoever
 *   registered it never proved they own the address, and keeping it would let an attacker pre-register a
 *   victim's address with a password of the attacker's choosing.
 * The password is hashed before the address is looked up, so that every path costs the same argon2 time.
 * The address is claimed through email-uniqueness.ts, which finds it under every live blind-index key version
 * and keeps two registrations for one address from both succeeding while versions are mixed.
 */
export async function registerCustomerAccount(details: RegistrationDetails, context: RequestContext): Promise<void> {
  const passwordHash = await hashPassword(details.password);
  const normalisedEmail = normaliseEmail(details.email);
  try {
    await database().transaction(async (tx) => {
      const { index: emailIndex, holders } = await claimEmailAddress(tx, normalisedEmail);
      const verifiedHolder = holders.find((holder) => holder.emailVerifiedAt !== null);
      if (verifiedHolder) {
        await notifyExistingOwner(tx, verifiedHolder.id, verifiedHolder.emailCiphertext, context);
        return;
      }
      for (const unverified of holders) {
        // Deleting the user also deletes its unused verification tokens (ON DELETE CASCADE).
        await tx.delete(users).where(and(eq(users.id, unverified.id), isNull(users.emailVerifiedAt)));
      }
      await createUnverifiedCustomer(tx, { ...details, normalisedEmail, emailIndex, passwordHash }, context);
    });
  } catch (error) {
    // The address lock makes two registrations for one new address take turns, and the second finds the
    // first's; the unique blind index stays as a second line. Should it refuse one, the loser's answer is the
    // same sentence, and the winner's verification email is on its way.
    if (!isUniqueViolation(error)) throw error;
  }
  scheduleEmailDelivery();
}

async function notifyExistingOwner(
  tx: Queryable,
  userId: string,
  emailCiphertext: string,
  context: RequestContext,
): Promise<void> {
  const email = await decryptField(emailCiphertext, { table: "users", column: "email", rowId: userId });
  await enqueueEmail(tx, { userId, email }, { template: "registration_attempt_on_existing_account" });
  await recordAuditEvent(tx, {
    actorId: null,
    actorRole: null,
    action: "identity.registration.existing_address",
    targetType: "user",
    targetId: userId,
    ...context,
  });
}

async function createUnverifiedCustomer(
  tx: Queryable,
  details: RegistrationDetails & { normalisedEmail: string; emailIndex: string; passwordHash: string },
  context: RequestContext,
): Promise<void> {
  const configuration = env();
  const userId = crypto.randomUUID();
  const fieldOf = (column: string) => ({ table: "users", column, rowId: userId });
  await tx.insert(users).values({
    id: userId,
    role: "customer",
    emailCiphertext: await encryptField(details.normalisedEmail, fieldOf("email")),
    emailBlindIndex: details.emailIndex,
    legalNameCiphertext: await encryptField(details.legalName, fieldOf("legal_name")),
    dateOfBirthCiphertext: await encryptField(details.dateOfBirth, fieldOf("date_of_birth")),
    passwordHash: details.passwordHash,
    termsAcceptedAt: new Date(),
  });
  const { token, tokenHash } = issueToken();
  await tx.insert(userTokens).values({
    id: crypto.randomUUID(),
    userId,
    purpose: "email_verification",
    tokenHash,
    expiresAt: new Date(Date.now() + configuration.emailVerificationTokenSeconds * 1000),
  });
  await enqueueEmail(
    tx,
    { userId, email: details.normalisedEmail },
    {
      template: "email_verification",
      link: `${configuration.appOrigin}/verify-email?token=${token}`,
      expiresInMinutes: Math.round(configuration.emailVerificationTokenSeconds / 60),
    },
  );
  await recordAuditEvent(tx, {
    actorId: null,
    actorRole: null,
    action: "identity.registration.created",
    targetType: "user",
    targetId: userId,
    ...context,
  });
}

/**
 * Deletes registrations whose verification link has expired without being followed. They hold PII of
 * someone who never proved the address was theirs, so they are not kept. Run periodically by the mail poller.
 */
export async function deleteExpiredRegistrations(): Promise<number> {
  const cutoff = new Date(Date.now() - env().emailVerificationTokenSeconds * 1000);
  const deleted = await database()
    .delete(users)
    .where(and(isNull(users.emailVerifiedAt), eq(users.role, "customer"), lt(users.createdAt, cutoff)))
    .returning({ id: users.id });
  return deleted.length;
}
