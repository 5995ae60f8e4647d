import "server-only";
import crypto from "node:crypto";
import { and, eq, isNull } from "drizzle-orm";
import { database } from "@/db/client";
import { mfaResetRequests, recoveryCodes, signInTickets, users, userTokens } from "@/db/schema";
import type { SessionActor } from "@/lib/auth/actor";
import { requireStaffPermission } from "@/lib/admin/staff-guard";
import { recordAuditEvent } from "@/lib/audit/record-audit-event";
import { mfaReenrolmentLinkLifetimeSeconds, mfaReenrolmentPath } from "@/lib/auth/mfa-reenrolment";
import { revokeAllSessions } from "@/lib/auth/sessions";
import { requireStepUpForPayload } from "@/lib/auth/step-up";
import { stepUpOperationHash } from "@/lib/auth/step-up-operations";
import { decryptField } from "@/lib/crypto";
import { env } from "@/lib/env";
import { BankError } from "@/lib/errors";
import { issueToken } from "@/lib/identity/tokens";
import { enqueueEmail } from "@/lib/mail/outbox";
import { scheduleEmailDelivery } from "@/lib/mail/schedule-delivery";
import { mfaResetDecisionSchema } from "@/lib/validation/mfa-reset";
import { contextOf, lockCustomer, lockPendingRequest, requestNotFound, withSession } from "./shared";

const sameStaffMember = () =>
  new BankError("forbidden", {
    userMessage: "A reset must be approved by a different staff member than the one who requested it.",
    internalMessage: "mfa reset approval by its requester",
  });

/**
 * The second staff step: a different staff member approves a pending request (four eyes, also a CHECK in the
 * database), after a step-up confirmed for exactly this request. In ONE transaction, with the request's row
 * locked so that two parallel approvals apply once (the second finds it no longer pending):
 * - the customer's authenticator (and any replacement in progress) is removed and their unused recovery codes
 *   deleted, and the account is marked as needing re-enrolment, so a password sign-in cannot enrol one;
 * - every session of the customer is revoked and every unfinished sign-in ticket ended;
 * - earlier re-enrolment links stop working and a new single-use link (24 hours, stored only as a hash) is
 *   queued in an email to the customer's address;
 * - the request becomes `approved`, and `staff.mfa_reset.approved` is audited.
 * The email is delivered after the commit (the outbox), so it is never sent for a reset that rolled back.
 */
export async function approveMfaReset(actor: SessionActor, requestId: string): Promise<void> {
  const staff = withSession(requireStaffPermission(actor, "mfa_reset.approve"), actor);
  const parsed = mfaResetDecisionSchema.safeParse({ requestId });
  if (!parsed.success) throw requestNotFound();
  // Checked before the step-up so that the requester is told at once instead of after typing a code; checked
  // again under the row lock below, which is the rule.
  const [request] = await database()
    .select({ requestedBy: mfaResetRequests.requestedBy })
    .from(mfaResetRequests)
    .where(and(eq(mfaResetRequests.id, parsed.data.requestId), eq(mfaResetRequests.status, "pending")))
    .limit(1);
  if (!request) throw requestNotFound();
  if (request.requestedBy === staff.userId) throw sameStaffMember();
  await requireStepUpForPayload(staff, stepUpOperationHash("staff_approve_mfa_reset", staff, parsed.data));

  const configuration = env();
  await database().transaction(async (tx) => {
    const pending = await lockPendingRequest(tx, parsed.data.requestId);
    if (pending.requestedBy === staff.userId) throw sameStaffMember();
    const customer = await lockCustomer(tx, pending.customerId);
    const now = new Date();
    await tx
      .update(users)
      .set({
        totpSecretCiphertext: null,
        totpEnrolledAt: null,
        totpLastUsedStep: null,
        pendingTotpSecretCiphertext: null,
        pendingTotpCreatedAt: null,
        mfaReenrolmentRequiredAt: now,
      })
      .where(eq(users.id, customer.id));
    const removedCodes = await tx
      .delete(recoveryCodes)
      .where(and(eq(recoveryCodes.userId, customer.id), isNull(recoveryCodes.usedAt)))
      .returning({ id: recoveryCodes.id });
    const sessionsRevoked = await revokeAllSessions(tx, customer.id, "mfa_reset", now);
    // A sign-in half-way through (password done, code perhaps done) must not become a session after the reset.
    await tx
      .update(signInTickets)
      .set({ usedAt: now })
      .where(and(eq(signInTickets.userId, customer.id), isNull(signInTickets.usedAt)));
    await tx
      .update(userTokens)
      .set({ usedAt: now })
      .where(and(eq(userTokens.userId, customer.id), eq(userTokens.purpose, "mfa_reenrolment"), isNull(userTokens.usedAt)));
    const { token, tokenHash } = issueToken();
    const tokenId = crypto.randomUUID();
    await tx.insert(userTokens).values({
      id: tokenId,
      userId: customer.id,
      purpose: "mfa_reenrolment",
      tokenHash,
      expiresAt: new Date(now.getTime() + mfaReenrolmentLinkLifetimeSeconds * 1000),
    });
    await tx
      .update(mfaResetRequests)
      .set({ status: "approved", approvedBy: staff.userId, decidedAt: now, reenrolmentTokenId: tokenId })
      .where(eq(mfaResetRequests.id, pending.id));
    const email = await decryptField(customer.emailCiphertext, { table: "users", column: "email", rowId: customer.id });
    await enqueueEmail(
      tx,
      { userId: customer.id, email },
      {
        template: "mfa_reset_reenrolment",
        // As the password-reset link: the token in the query of a page that sends no Referer; looking at the
        // page spends nothing, only a completed enrolment does.
        link: `${configuration.appOrigin}${mfaReenrolmentPath}?token=${token}`,
        expiresInMinutes: Math.round(mfaReenrolmentLinkLifetimeSeconds / 60),
      },
    );
    await recordAuditEvent(tx, {
      actorId: staff.userId,
      actorRole: staff.role,
      action: "staff.mfa_reset.approved",
      targetType: "user",
      targetId: customer.id,
      ...contextOf(staff),
      details: {
        requestId: pending.id,
        requestedBy: pending.requestedBy,
        sessionsRevoked,
        recoveryCodesRemoved: removedCodes.length,
      },
    });
  });
  scheduleEmailDelivery();
}
