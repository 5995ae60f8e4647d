import "server-only";
import crypto from "node:crypto";
import { database } from "@/db/client";
import { staffInvitations } from "@/db/schema";
import type { StaffActor } from "@/lib/auth/actor";
import { recordAuditEvent } from "@/lib/audit/record-audit-event";
import { requireStaffPermission } from "@/lib/admin/staff-guard";
import { encryptField, normaliseEmail } from "@/lib/crypto";
import { env } from "@/lib/env";
import { BankError } from "@/lib/errors";
import { claimEmailAddress } from "@/lib/identity/email-uniqueness";
import { issueToken } from "@/lib/identity/tokens";
import { enqueueEmail } from "@/lib/mail/outbox";
import { scheduleEmailDelivery } from "@/lib/mail/schedule-delivery";

/** How long an invitation link works. */
export const staffInvitationLifetimeHours = 24;

/** Where an invitation's values are encrypted: bound to the invitation row, under the PII key. */
export function staffInvitationField(invitationId: string, column: "email" | "legal_name") {
  return { table: "staff_invitations", column, rowId: invitationId };
}

/**
 * Invites a new staff member as support or auditor. Nothing is created in users yet: the invitee chooses a
 * password and enrols an authenticator through the emailed link (lib/identity/staff-invitation.ts), and only
 * then does the account exist, with its second factor from the first moment. `admin` is never given by
 * invitation; it is granted afterwards and needs a second admin (lib/admin/staff/staff-roles.ts).
 *
 * The address is claimed through email-uniqueness.ts, so an address that already belongs to an account (a
 * customer's or a staff member's) is refused here, and again when the invitation is accepted.
 */
export async function inviteStaff(
  actor: StaffActor,
  input: { email: string; legalName: string; role: "support" | "auditor" },
): Promise<{ invitationId: string }> {
  requireStaffPermission(actor, "staff.invite");
  if (input.role !== "support" && input.role !== "auditor") {
    throw new BankError("invalid_input", { fieldErrors: { role: ["Choose support or auditor."] } });
  }
  const email = normaliseEmail(input.email);
  const configuration = env();
  const invitationId = crypto.randomUUID();
  await database().transaction(async (tx) => {
    const claim = await claimEmailAddress(tx, email);
    if (claim.holders.length > 0) {
      throw new BankError("conflict", {
        userMessage: "This address already belongs to an account.",
        fieldErrors: { email: ["This address already belongs to an account."] },
      });
    }
    const { token, tokenHash } = issueToken();
    await tx.insert(staffInvitations).values({
      id: invitationId,
      emailCiphertext: await encryptField(email, staffInvitationField(invitationId, "email")),
      legalNameCiphertext: await encryptField(input.legalName, staffInvitationField(invitationId, "legal_name")),
      role: input.role,
      tokenHash,
      invitedBy: actor.userId,
      expiresAt: new Date(Date.now() + staffInvitationLifetimeHours * 3600 * 1000),
    });
    await enqueueEmail(
      tx,
      { userId: null, email },
      {
        template: "staff_invitation",
        link: `${configuration.appOrigin}/staff-invitation/${token}`,
        role: input.role,
        expiresInMinutes: staffInvitationLifetimeHours * 60,
      },
    );
    await recordAuditEvent(tx, {
      actorId: actor.userId,
      actorRole: actor.role,
      action: "staff.invited",
      targetType: "staff_invitation",
      targetId: invitationId,
      ipAddress: actor.ipAddress,
      userAgent: actor.userAgent,
      details: { role: input.role },
    });
  });
  scheduleEmailDelivery();
  return { invitationId };
}
