import "server-only";
import crypto from "node:crypto";
import { and, eq, isNull, or } from "drizzle-orm";
import { database, type Transaction } from "@/db/client";
import { staffInvitations, staffRoleRequests, users } from "@/db/schema";
import type { StaffActor, StaffRole } from "@/lib/auth/actor";
import { recordAuditEvent } from "@/lib/audit/record-audit-event";
import { revokeAllSessions } from "@/lib/auth/sessions";
import { requireStepUpForPayload } from "@/lib/auth/step-up";
import { stepUpOperationHash } from "@/lib/auth/step-up-operations";
import { requireStaffPermission } from "@/lib/admin/staff-guard";
import { lockActiveAdmins, lockStaffMember, staffAccessRemovedUntil } from "@/lib/admin/staff/staff-access";
import { isUniqueViolation } from "@/lib/database-errors";
import { BankError } from "@/lib/errors";
import type { StaffSessionActor } from "@/lib/admin/staff-action";


export type RoleChangeOutcome =
  | { outcome: "role_changed"; oldRole: StaffRole; newRole: StaffRole }
  | { outcome: "grant_requested"; requestId: string };

const unknownStaffMember = () =>
  new BankError("not_found", { userMessage: "That staff member does not exist or no longer has access." });

function refuseOwnAccount(actor: StaffActor, staffId: string, what: string): void {
  // An admin who could change their own role could also undo the second admin's part of any four-eyes rule.
  if (actor.userId === staffId) {
    throw new BankError("forbidden", { userMessage: `You cannot ${what} your own account. Ask another admin.` });
  }
}

/**
 * The guard checked the actor's role when the request began; with the admins' rows locked it is checked again,
 * so that of two admins removing each other at the same moment the second, already removed, is refused.
 */
function refuseUnlessStillAdmin(actor: StaffActor, activeAdmins: readonly string[]): void {
  if (!activeAdmins.includes(actor.userId)) {
    throw new BankError("not_found", { internalMessage: "the acting admin lost the role during the request" });
  }
}

function lastAdminRefusal(): BankError {
  return new BankError("conflict", { userMessage: "The bank must keep at least one admin. Grant admin to someone else first." });
}

function audit(tx: Transaction, actor: StaffActor, action: string, staffId: string, details: Record<string, string>) {
  return recordAuditEvent(tx, {
    actorId: actor.userId,
    actorRole: actor.role,
    action,
    targetType: "user",
    targetId: staffId,
    ipAddress: actor.ipAddress,
    userAgent: actor.userAgent,
    details,
  });
}

/**
 * Changes a staff member's role. Between support and auditor, and from admin to either, the change is made at
 * once; granting `admin` only files a request that a second admin must approve (approveAdminGrant). The
 * target's sessions are revoked with any change, so that they sign in again under the new role: the role is
 * read from the database on every request anyway (lib/auth/sessions.ts loadSessionRecord), the revocation
 * makes the change visible to them rather than silent.
 */
export async function changeStaffRole(
  actor: StaffSessionActor,
  input: { staffId: string; role: StaffRole },
): Promise<RoleChangeOutcome> {
  requireStaffPermission(actor, "staff.change_role");
  refuseOwnAccount(actor, input.staffId, "change the role of");
  await requireStepUpForPayload(actor, stepUpOperationHash("staff_change_role", actor, input));
  try {
    return await database().transaction(async (tx) => {
      const activeAdmins = await lockActiveAdmins(tx);
      refuseUnlessStillAdmin(actor, activeAdmins);
      const member = await lockStaffMember(tx, input.staffId);
      if (!member) throw unknownStaffMember();
      if (member.role === input.role) {
        throw new BankError("conflict", { userMessage: `This staff member is already ${input.role}.` });
      }
      if (input.role === "admin") {
        const requestId = crypto.randomUUID();
        await tx.insert(staffRoleRequests).values({
          id: requestId,
          targetUserId: member.id,
          requestedRole: "admin",
          requestedBy: actor.userId,
        });
        await audit(tx, actor, "staff.role.grant_requested", member.id, { requestId, currentRole: member.role });
        return { outcome: "grant_requested", requestId } as const;
      }
      if (member.role === "admin" && activeAdmins.filter((id) => id !== member.id).length === 0) throw lastAdminRefusal();
      await tx.update(users).set({ role: input.role }).where(eq(users.id, member.id));
      if (member.role === "admin") await withdrawRequestsBy(tx, actor, member.id);
      await revokeAllSessions(tx, member.id, "staff_role_changed");
      await audit(tx, actor, "staff.role.changed", member.id, { oldRole: member.role, newRole: input.role });
      return { outcome: "role_changed", oldRole: member.role, newRole: input.role } as const;
    });
  } catch (error) {
    if (isUniqueViolation(error)) {
      throw new BankError("conflict", { userMessage: "A grant of admin for this staff member is already waiting.", cause: error });
    }
    throw error;
  }
}

/**
 * Removes a staff member's access: the account is locked for good (lib/admin/staff/staff-access.ts says why a
 * lock), every session ends, their own pending admin requests and unused invitations are withdrawn (an admin
 * who left must not have a request approved or an invitation accepted afterwards), and a pending grant for
 * them is cancelled. The last admin cannot be removed.
 */
export async function removeStaffAccess(actor: StaffSessionActor, input: { staffId: string }): Promise<void> {
  requireStaffPermission(actor, "staff.change_role");
  refuseOwnAccount(actor, input.staffId, "remove");
  await requireStepUpForPayload(actor, stepUpOperationHash("staff_remove_access", actor, input));
  await database().transaction(async (tx) => {
    const activeAdmins = await lockActiveAdmins(tx);
    refuseUnlessStillAdmin(actor, activeAdmins);
    const member = await lockStaffMember(tx, input.staffId);
    if (!member) throw unknownStaffMember();
    if (member.role === "admin" && activeAdmins.filter((id) => id !== member.id).length === 0) throw lastAdminRefusal();
    await tx.update(users).set({ lockedUntil: staffAccessRemovedUntil }).where(eq(users.id, member.id));
    await withdrawRequestsBy(tx, actor, member.id);
    await tx
      .update(staffInvitations)
      .set({ expiresAt: new Date() })
      .where(and(eq(staffInvitations.invitedBy, member.id), isNull(staffInvitations.usedAt)));
    await revokeAllSessions(tx, member.id, "staff_lock");
    await audit(tx, actor, "staff.access.removed", member.id, { oldRole: member.role });
  });
}

/** Cancels the pending admin grants requested by, or for, a staff member who lost the admin role or access. */
async function withdrawRequestsBy(tx: Transaction, actor: StaffActor, staffId: string): Promise<void> {
  const cancelled = await tx
    .update(staffRoleRequests)
    .set({ status: "cancelled", decidedAt: new Date() })
    .where(
      and(
        eq(staffRoleRequests.status, "pending"),
        or(eq(staffRoleRequests.requestedBy, staffId), eq(staffRoleRequests.targetUserId, staffId)),
      ),
    )
    .returning({ id: staffRoleRequests.id, targetUserId: staffRoleRequests.targetUserId });
  for (const request of cancelled) {
    await audit(tx, actor, "staff.role.grant_cancelled", request.targetUserId, { requestId: request.id });
  }
}

/**
 * Approves a pending grant of `admin`. The approver must be an admin other than the one who asked and other
 * than the staff member who would become admin (the database's staff_role_requests_second_admin check holds
 * the same rule). The request is claimed with a row lock and only while still pending, so two admins
 * approving at once apply it once; the second is told it is no longer waiting.
 */
export async function approveAdminGrant(actor: StaffSessionActor, input: { requestId: string }): Promise<void> {
  requireStaffPermission(actor, "staff.approve_admin_grant");
  // Checked before the step-up too, so that an admin is not asked for a code for a request they may not approve.
  const [preview] = await database()
    .select({ requestedBy: staffRoleRequests.requestedBy, targetUserId: staffRoleRequests.targetUserId })
    .from(staffRoleRequests)
    .where(and(eq(staffRoleRequests.id, input.requestId), eq(staffRoleRequests.status, "pending")))
    .limit(1);
  if (!preview) throw requestNotWaiting();
  refuseOwnRequest(actor, preview);
  await requireStepUpForPayload(actor, stepUpOperationHash("staff_approve_admin_grant", actor, input));
  await database().transaction(async (tx) => {
    const activeAdmins = await lockActiveAdmins(tx);
    const [request] = await tx
      .select()
      .from(staffRoleRequests)
      .where(and(eq(staffRoleRequests.id, input.requestId), eq(staffRoleRequests.status, "pending")))
      .for("update")
      .limit(1);
    if (!request) throw requestNotWaiting();
    refuseOwnRequest(actor, request);
    // Both halves of the four eyes must still be admins with access at the moment of approval.
    if (!activeAdmins.includes(actor.userId) || !activeAdmins.includes(request.requestedBy)) throw requestNotWaiting();
    const member = await lockStaffMember(tx, request.targetUserId);
    if (!member) throw unknownStaffMember();
    const now = new Date();
    await tx
      .update(staffRoleRequests)
      .set({ status: "approved", decidedBy: actor.userId, decidedAt: now })
      .where(eq(staffRoleRequests.id, request.id));
    await tx.update(users).set({ role: "admin" }).where(eq(users.id, member.id));
    await revokeAllSessions(tx, member.id, "staff_role_changed", now);
    await audit(tx, actor, "staff.role.grant_approved", member.id, { requestId: request.id, requestedBy: request.requestedBy });
    await audit(tx, actor, "staff.role.changed", member.id, { oldRole: member.role, newRole: "admin", requestId: request.id });
  });
}

/** Withdraws a pending grant of `admin` (any admin may: withdrawing grants nothing). */
export async function cancelAdminGrant(actor: StaffSessionActor, input: { requestId: string }): Promise<void> {
  requireStaffPermission(actor, "staff.change_role");
  await database().transaction(async (tx) => {
    const cancelled = await tx
      .update(staffRoleRequests)
      // decided_by stays empty: it names approvers only (the requester may cancel their own request); the audit
      // event names who cancelled.
      .set({ status: "cancelled", decidedAt: new Date() })
      .where(and(eq(staffRoleRequests.id, input.requestId), eq(staffRoleRequests.status, "pending")))
      .returning({ targetUserId: staffRoleRequests.targetUserId });
    const [request] = cancelled;
    if (!request) throw requestNotWaiting();
    await audit(tx, actor, "staff.role.grant_cancelled", request.targetUserId, { requestId: input.requestId });
  });
}

function requestNotWaiting(): BankError {
  return new BankError("not_found", { userMessage: "This request is no longer waiting for approval." });
}

function refuseOwnRequest(actor: StaffActor, request: { requestedBy: string; targetUserId: string }): void {
  if (request.requestedBy === actor.userId) {
    throw new BankError("forbidden", { userMessage: "A second admin must approve your own request." });
  }
  if (request.targetUserId === actor.userId) {
    throw new BankError("forbidden", { userMessage: "You cannot approve admin for yourself." });
  }
}
