import "server-only";
import { aliasedTable, and, desc, eq, gt, isNull, max, ne } from "drizzle-orm";
import { database } from "@/db/client";
import { signInEvents, staffInvitations, staffRoleRequests, users } from "@/db/schema";
import type { StaffActor, StaffRole } from "@/lib/auth/actor";
import { requireStaffPermission } from "@/lib/admin/staff-guard";
import { isAccessRemoved, maskEmail } from "@/lib/admin/staff/staff-access";
import { staffInvitationField } from "@/lib/admin/staff/invite-staff";
import { decryptField } from "@/lib/crypto";

export interface StaffMemberSummary {
  id: string;
  legalName: string;
  maskedEmail: string;
  role: StaffRole;
  mfaEnrolled: boolean;
  lastSignInAt: Date | null;
  accessRemoved: boolean;
}

export interface PendingAdminGrant {
  id: string;
  targetId: string;
  targetName: string;
  targetRole: StaffRole;
  requestedById: string;
  requestedByName: string;
  createdAt: Date;
}

export interface PendingInvitation {
  id: string;
  maskedEmail: string;
  role: StaffRole;
  expiresAt: Date;
}

export interface StaffDirectory {
  members: StaffMemberSummary[];
  pendingAdminGrants: PendingAdminGrant[];
  pendingInvitations: PendingInvitation[];
}

const legalNameOf = (userId: string, ciphertext: string) =>
  decryptField(ciphertext, { table: "users", column: "legal_name", rowId: userId });

/**
 * The staff list for /admin/staff: every staff member (email masked), whether they have an authenticator,
 * their last successful sign-in, and the grants of admin and invitations still waiting.
 */
export async function listStaff(actor: StaffActor): Promise<StaffDirectory> {
  requireStaffPermission(actor, "staff.read");
  const db = database();
  const lastSignIns = db
    .select({ userId: signInEvents.userId, lastSignInAt: max(signInEvents.occurredAt).as("last_sign_in_at") })
    .from(signInEvents)
    .where(eq(signInEvents.outcome, "succeeded"))
    .groupBy(signInEvents.userId)
    .as("last_sign_ins");
  const rows = await db
    .select({
      id: users.id,
      role: users.role,
      emailCiphertext: users.emailCiphertext,
      legalNameCiphertext: users.legalNameCiphertext,
      totpEnrolledAt: users.totpEnrolledAt,
      lockedUntil: users.lockedUntil,
      lastSignInAt: lastSignIns.lastSignInAt,
    })
    .from(users)
    .leftJoin(lastSignIns, eq(lastSignIns.userId, users.id))
    .where(ne(users.role, "customer"))
    .orderBy(users.createdAt, users.id);
  const members: StaffMemberSummary[] = [];
  const names = new Map<string, string>();
  for (const row of rows) {
    if (row.role === "customer") continue;
    const legalName = await legalNameOf(row.id, row.legalNameCiphertext);
    names.set(row.id, legalName);
    const email = await decryptField(row.emailCiphertext, { table: "users", column: "email", rowId: row.id });
    members.push({
      id: row.id,
      legalName,
      maskedEmail: maskEmail(email),
      role: row.role,
      mfaEnrolled: row.totpEnrolledAt !== null,
      lastSignInAt: row.lastSignInAt ? new Date(row.lastSignInAt) : null,
      accessRemoved: isAccessRemoved(row.lockedUntil),
    });
  }
  const target = aliasedTable(users, "target");
  const requests = await db
    .select({
      id: staffRoleRequests.id,
      targetId: staffRoleRequests.targetUserId,
      targetRole: target.role,
      requestedById: staffRoleRequests.requestedBy,
      createdAt: staffRoleRequests.createdAt,
    })
    .from(staffRoleRequests)
    .innerJoin(target, eq(target.id, staffRoleRequests.targetUserId))
    .where(eq(staffRoleRequests.status, "pending"))
    .orderBy(staffRoleRequests.createdAt);
  const pendingAdminGrants = requests.flatMap((request): PendingAdminGrant[] =>
    request.targetRole === "customer"
      ? []
      : [
          {
            ...request,
            targetRole: request.targetRole,
            targetName: names.get(request.targetId) ?? "",
            requestedByName: names.get(request.requestedById) ?? "",
          },
        ],
  );
  const invitations = await db
    .select({
      id: staffInvitations.id,
      emailCiphertext: staffInvitations.emailCiphertext,
      role: staffInvitations.role,
      expiresAt: staffInvitations.expiresAt,
    })
    .from(staffInvitations)
    .where(and(isNull(staffInvitations.usedAt), gt(staffInvitations.expiresAt, new Date())))
    .orderBy(desc(staffInvitations.createdAt));
  const pendingInvitations: PendingInvitation[] = [];
  for (const invitation of invitations) {
    if (invitation.role === "customer") continue;
    const email = await decryptField(invitation.emailCiphertext, staffInvitationField(invitation.id, "email"));
    pendingInvitations.push({ id: invitation.id, maskedEmail: maskEmail(email), role: invitation.role, expiresAt: invitation.expiresAt });
  }
  return { members, pendingAdminGrants, pendingInvitations };
}
