import "server-only";
import crypto from "node:crypto";
import { database } from "@/db/client";
import { mfaResetRequests } from "@/db/schema";
import type { SessionActor } from "@/lib/auth/actor";
import { requireStaffPermission } from "@/lib/admin/staff-guard";
import { recordAuditEvent } from "@/lib/audit/record-audit-event";
import { requireStepUpForPayload } from "@/lib/auth/step-up";
import { stepUpOperationHash } from "@/lib/auth/step-up-operations";
import { encryptField } from "@/lib/crypto";
import { isUniqueViolation } from "@/lib/database-errors";
import { BankError } from "@/lib/errors";
import { requestMfaResetSchema } from "@/lib/validation/mfa-reset";
import { contextOf, lockCustomer, mfaResetReasonField, withSession } from "./shared";

const alreadyPending = () =>
  new BankError("conflict", { userMessage: "A reset of this customer's second factor is already waiting for approval." });

/**
 * The first of the two staff steps: asks for the reset of a customer's second factor, with a reason (at most
 * 500 characters, shown to the approver, encrypted at rest and kept out of the audit trail because it is free
 * text that may hold customer details). Needs a step-up
 * confirmed for exactly this customer. One pending request per customer (also a partial unique index). Changes
 * nothing about the customer yet.
 */
export async function requestMfaReset(
  actor: SessionActor,
  customerId: string,
  reason: string,
): Promise<{ requestId: string }> {
  const staff = withSession(requireStaffPermission(actor, "mfa_reset.request"), actor);
  const input = requestMfaResetSchema.safeParse({ customerId, reason });
  if (!input.success) {
    throw new BankError("invalid_input", {
      fieldErrors: Object.fromEntries(
        input.error.issues.map((issue) => [String(issue.path[0] ?? "form"), [issue.message]]),
      ),
    });
  }
  await requireStepUpForPayload(staff, stepUpOperationHash("staff_request_mfa_reset", staff, { customerId: input.data.customerId }));
  const requestId = crypto.randomUUID();
  try {
    await database().transaction(async (tx) => {
      const customer = await lockCustomer(tx, input.data.customerId);
      if (!customer.totpEnrolledAt && !customer.mfaReenrolmentRequiredAt) {
        throw new BankError("conflict", { userMessage: "This customer has no second factor to reset." });
      }
      await tx.insert(mfaResetRequests).values({
        id: requestId,
        customerId: customer.id,
        requestedBy: staff.userId,
        reasonCiphertext: await encryptField(input.data.reason, mfaResetReasonField(requestId)),
      });
      await recordAuditEvent(tx, {
        actorId: staff.userId,
        actorRole: staff.role,
        action: "staff.mfa_reset.requested",
        targetType: "user",
        targetId: customer.id,
        ...contextOf(staff),
        details: { requestId },
      });
    });
  } catch (error) {
    if (isUniqueViolation(error)) throw alreadyPending();
    throw error;
  }
  return { requestId };
}
