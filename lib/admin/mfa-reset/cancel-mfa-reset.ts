import "server-only";
import { eq } from "drizzle-orm";
import { database } from "@/db/client";
import { mfaResetRequests } from "@/db/schema";
import type { SessionActor } from "@/lib/auth/actor";
import { requireStaffPermission } from "@/lib/admin/staff-guard";
import { recordAuditEvent } from "@/lib/audit/record-audit-event";
import { BankError } from "@/lib/errors";
import { mfaResetDecisionSchema } from "@/lib/validation/mfa-reset";
import { contextOf, lockPendingRequest, requestNotFound } from "./shared";

/**
 * Withdraws a pending request: its requester may, and so may any admin. Cancelling changes nothing about the
 * customer, so it needs no step-up. Audited as `staff.mfa_reset.cancelled`.
 */
export async function cancelMfaReset(actor: SessionActor, requestId: string): Promise<void> {
  const staff = requireStaffPermission(actor, "mfa_reset.request");
  const parsed = mfaResetDecisionSchema.safeParse({ requestId });
  if (!parsed.success) throw requestNotFound();
  await database().transaction(async (tx) => {
    const pending = await lockPendingRequest(tx, parsed.data.requestId);
    if (pending.requestedBy !== staff.userId && staff.role !== "admin") {
      throw new BankError("forbidden", {
        userMessage: "Only the staff member who requested this reset, or an admin, can cancel it.",
      });
    }
    await tx
      .update(mfaResetRequests)
      .set({ status: "cancelled", cancelledBy: staff.userId, decidedAt: new Date() })
      .where(eq(mfaResetRequests.id, pending.id));
    await recordAuditEvent(tx, {
      actorId: staff.userId,
      actorRole: staff.role,
      action: "staff.mfa_reset.cancelled",
      targetType: "user",
      targetId: pending.customerId,
      ...contextOf(staff),
      details: { requestId: pending.id },
    });
  });
}
