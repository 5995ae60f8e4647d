import "server-only";
import { asc, eq } from "drizzle-orm";
import { database } from "@/db/client";
import { mfaResetRequests, users } from "@/db/schema";
import type { Actor, StaffActor } from "@/lib/auth/actor";
import { roleHasPermission } from "@/lib/admin/permissions";
import { requireStaffPermission } from "@/lib/admin/staff-guard";
import { decryptField } from "@/lib/crypto";
import { mfaResetReasonField } from "./shared";

/** One pending request as the back office shows it: no customer PII, only the id the staff member typed. */
export interface PendingMfaReset {
  requestId: string;
  customerId: string;
  reason: string;
  requestedById: string;
  requestedByName: string;
  requestedAt: Date;
  /** The viewer made this request: they cannot approve it, but may cancel it. */
  requestedByViewer: boolean;
  viewerMayApprove: boolean;
  viewerMayCancel: boolean;
}

/**
 * The pending MFA reset requests, oldest first, for staff who may request or approve resets. Read-only. The
 * requester's name is staff data (not customer PII); the reason is the requester's own words, which the
 * approver needs to decide.
 */
export async function listPendingMfaResets(actor: Actor | null | undefined): Promise<PendingMfaReset[]> {
  const staff: StaffActor =
    actor?.kind === "staff" && roleHasPermission(actor.role, "mfa_reset.approve")
      ? requireStaffPermission(actor, "mfa_reset.approve")
      : requireStaffPermission(actor, "mfa_reset.request");
  const rows = await database()
    .select({
      requestId: mfaResetRequests.id,
      customerId: mfaResetRequests.customerId,
      reasonCiphertext: mfaResetRequests.reasonCiphertext,
      requestedById: mfaResetRequests.requestedBy,
      requestedAt: mfaResetRequests.createdAt,
      requesterNameCiphertext: users.legalNameCiphertext,
    })
    .from(mfaResetRequests)
    .innerJoin(users, eq(users.id, mfaResetRequests.requestedBy))
    .where(eq(mfaResetRequests.status, "pending"))
    .orderBy(asc(mfaResetRequests.createdAt), asc(mfaResetRequests.id))
    .limit(200);
  return Promise.all(
    rows.map(async (row) => {
      const requestedByViewer = row.requestedById === staff.userId;
      return {
        requestId: row.requestId,
        customerId: row.customerId,
        reason: await decryptField(row.reasonCiphertext, mfaResetReasonField(row.requestId)),
        requestedById: row.requestedById,
        requestedByName: await decryptField(row.requesterNameCiphertext, {
          table: "users",
          column: "legal_name",
          rowId: row.requestedById,
        }),
        requestedAt: row.requestedAt,
        requestedByViewer,
        viewerMayApprove: !requestedByViewer && roleHasPermission(staff.role, "mfa_reset.approve"),
        viewerMayCancel: requestedByViewer || staff.role === "admin",
      };
    }),
  );
}
