import "server-only";
import crypto from "node:crypto";
import { and, eq, gt, isNull } from "drizzle-orm";
import { database } from "@/db/client";
import { staffInvitations, users } from "@/db/schema";
import type { RequestContext, StaffRole } from "@/lib/auth/actor";
import { recordAuditEvent } from "@/lib/audit/record-audit-event";
import { hashPassword } from "@/lib/auth/password";
import { generateTotpSecret, matchTotpCode, totpProvisioning, totpSecretField, type TotpProvisioning } from "@/lib/auth/totp";
import { staffInvitationField } from "@/lib/admin/staff/invite-staff";
import { decryptField, encryptField } from "@/lib/crypto";
import { BankError } from "@/lib/errors";
import { claimEmailAddress } from "@/lib/identity/email-uniqueness";
import { hashToken, tokenPattern } from "@/lib/identity/tokens";
import { checkPassword } from "@/lib/validation/password-policy";
import { invalidInvitationMessage } from "@/lib/validation/staff";

/**
 * The invitee's side of a staff invitation (the admin's side is lib/admin/staff/invite-staff.ts). It is
 * authenticated by the emailed token alone, not by a staff session, which is why it lives here and not under
 * lib/admin: there is no staff actor yet. Every failure (unknown, used, expired, malformed token) is the same
 * not_found, which the page answers with 404.
 */

const invalidInvitation = () => new BankError("not_found", { userMessage: invalidInvitationMessage });

/** Where the authenticator secret shown to the invitee waits: bound to the invitation row, under the "mfa" key. */
function pendingSecretField(invitationId: string) {
  return { table: "staff_invitations", column: "pending_totp_secret", rowId: invitationId };
}

export interface OpenedStaffInvitation {
  email: string;
  legalName: string;
  role: StaffRole;
  authenticator: TotpProvisioning;
}

async function findLiveInvitation(token: string) {
  if (!tokenPattern.test(token)) throw invalidInvitation();
  const [invitation] = await database()
    .select()
    .from(staffInvitations)
    .where(
      and(
        eq(staffInvitations.tokenHash, hashToken(token)),
        isNull(staffInvitations.usedAt),
        gt(staffInvitations.expiresAt, new Date()),
      ),
    )
    .limit(1);
  if (!invitation) throw invalidInvitation();
  return invitation;
}

/**
 * What the acceptance page shows: who is invited, as what, and the authenticator to enrol. The secret is made
 * once per invitation (the first time the page is shown) and kept, encrypted, on the invitation, so reloading
 * the page shows the same QR code rather than voiding one the invitee may already have scanned.
 */
export async function openStaffInvitation(token: string): Promise<OpenedStaffInvitation> {
  let invitation = await findLiveInvitation(token);
  if (invitation.pendingTotpSecretCiphertext === null) {
    // Only if still empty: of two first views at once, one secret wins and both then show it.
    await database()
      .update(staffInvitations)
      .set({ pendingTotpSecretCiphertext: await encryptField(generateTotpSecret(), pendingSecretField(invitation.id), "mfa") })
      .where(and(eq(staffInvitations.id, invitation.id), isNull(staffInvitations.pendingTotpSecretCiphertext)));
    invitation = await findLiveInvitation(token);
  }
  if (invitation.role === "customer" || invitation.pendingTotpSecretCiphertext === null) throw invalidInvitation();
  const email = await decryptField(invitation.emailCiphertext, staffInvitationField(invitation.id, "email"));
  const legalName = await decryptField(invitation.legalNameCiphertext, staffInvitationField(invitation.id, "legal_name"));
  const secret = await decryptField(invitation.pendingTotpSecretCiphertext, pendingSecretField(invitation.id), "mfa");
  return { email, legalName, role: invitation.role, authenticator: await totpProvisioning(secret, email) };
}

/**
 * Accepts an invitation: checks the password against the customers' policy (with the invitee's name and
 * address as inputs), checks the first authenticator code, and creates the staff account with both at once,
 * so the account never exists without its second factor. The token is claimed with a row lock and marked used
 * in the same transaction, so a link followed twice creates one account.
 */
export async function acceptStaffInvitation(
  input: { token: string; password: string; code: string },
  context: RequestContext,
): Promise<{ userId: string }> {
  const preview = await findLiveInvitation(input.token);
  const email = await decryptField(preview.emailCiphertext, staffInvitationField(preview.id, "email"));
  const legalName = await decryptField(preview.legalNameCiphertext, staffInvitationField(preview.id, "legal_name"));
  const verdict = await checkPassword(input.password, { legalName, email });
  if (verdict.failures.length > 0) {
    throw new BankError("invalid_input", { fieldErrors: { password: verdict.failures.map((failure) => failure.message) } });
  }
  const passwordHash = await hashPassword(input.password);
  const userId = crypto.randomUUID();
  await database().transaction(async (tx) => {
    const [invitation] = await tx
      .select()
      .from(staffInvitations)
      .where(
        and(
          eq(staffInvitations.id, preview.id),
          isNull(staffInvitations.usedAt),
          gt(staffInvitations.expiresAt, new Date()),
        ),
      )
      .for("update")
      .limit(1);
    if (!invitation || invitation.role === "customer") throw invalidInvitation();
    if (invitation.pendingTotpSecretCiphertext === null) {
      throw new BankError("invalid_input", { fieldErrors: { code: ["Reload the page and scan the code shown."] } });
    }
    const secret = await decryptField(invitation.pendingTotpSecretCiphertext, pendingSecretField(invitation.id), "mfa");
    const now = new Date();
    const timeStep = await matchTotpCode(secret, input.code, { now });
    if (timeStep === null) {
      throw new BankError("invalid_input", {
        fieldErrors: { code: ["That code is not correct. Wait for a new code and try again."] },
      });
    }
    const claim = await claimEmailAddress(tx, email);
    if (claim.holders.length > 0) {
      throw new BankError("conflict", { userMessage: "This address already belongs to an account. Ask an admin." });
    }
    const fieldOf = (column: string) => ({ table: "users", column, rowId: userId });
    await tx.insert(users).values({
      id: userId,
      role: invitation.role,
      emailCiphertext: await encryptField(email, fieldOf("email")),
      emailBlindIndex: claim.index,
      legalNameCiphertext: await encryptField(legalName, fieldOf("legal_name")),
      passwordHash,
      // Following the emailed link proved the address.
      emailVerifiedAt: now,
      totpSecretCiphertext: await encryptField(secret, totpSecretField(userId), "mfa"),
      totpEnrolledAt: now,
      totpLastUsedStep: timeStep,
    });
    await tx
      .update(staffInvitations)
      .set({ usedAt: now, acceptedUserId: userId, pendingTotpSecretCiphertext: null })
      .where(eq(staffInvitations.id, invitation.id));
    await recordAuditEvent(tx, {
      actorId: userId,
      actorRole: invitation.role,
      action: "staff.invitation.accepted",
      targetType: "staff_invitation",
      targetId: invitation.id,
      ...context,
      details: { role: invitation.role, invitedBy: invitation.invitedBy },
    });
  });
  return { userId };
}
