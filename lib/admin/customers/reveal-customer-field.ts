import "server-only";
import { z } from "zod";
import { database } from "@/db/client";
import type { StaffSessionActor } from "@/lib/admin/staff-action";
import { requireStaffPermission } from "@/lib/admin/staff-guard";
import { decryptCustomerField, loadCustomerRow } from "@/lib/admin/customers/customer-record";
import type { Actor } from "@/lib/auth/actor";
import { recordAuditEvent } from "@/lib/audit/record-audit-event";
import { requireStepUpForPayload } from "@/lib/auth/step-up";
import { stepUpOperationHash } from "@/lib/auth/step-up-operations";
import { BankError } from "@/lib/errors";
import { revealCustomerFieldSchema, type RevealableCustomerField } from "@/lib/validation/admin-customers";

export interface RevealedCustomerField {
  field: RevealableCustomerField;
  /** The full value, or null when the bank holds none. */
  value: string | null;
}

/**
 * Reveals one masked field of one customer to a staff member who states why. Order matters:
 * 1. the permission (anyone else: not_found);
 * 2. the input, reason included (a field error costs no step-up);
 * 3. the customer must exist (not_found before any code is asked for);
 * 4. a step-up confirmed for exactly this customer and field, spent once;
 * 5. the audit event `staff.customer.pii_revealed` with the field and the reason, committed before the value is
 *    returned: if the event cannot be written, nothing is revealed.
 * The value itself never goes into the trail; the reason is the staff member's own words.
 */
export async function revealCustomerField(
  actor: (Actor & { sessionId?: string }) | null,
  customerId: string,
  field: string,
  reason: string,
): Promise<RevealedCustomerField> {
  const staff = requireStaffPermission(actor, "customers.reveal_pii");
  // A step-up belongs to a session; a caller without one (a script) can never have confirmed it.
  const sessionId = actor?.sessionId;
  if (sessionId === undefined) throw new BankError("step_up_required", { internalMessage: "step-up asked without a session" });
  const sessionActor: StaffSessionActor = { ...staff, sessionId };
  const input = { customerId, field, reason };
  const parsed = revealCustomerFieldSchema.safeParse(input);
  if (!parsed.success) {
    // A malformed id is an unknown customer, as everywhere; the other fields are the staff member's to fix.
    const fieldErrors = z.flattenError(parsed.error).fieldErrors as Record<string, string[]>;
    if (fieldErrors.customerId) throw new BankError("not_found");
    throw new BankError("invalid_input", { fieldErrors });
  }
  const row = await loadCustomerRow(database(), parsed.data.customerId);
  await requireStepUpForPayload(sessionActor, stepUpOperationHash("staff_reveal_pii", sessionActor, input));
  const value = await decryptCustomerField(row, parsed.data.field);
  await database().transaction(async (tx) => {
    await recordAuditEvent(tx, {
      actorId: staff.userId,
      actorRole: staff.role,
      action: "staff.customer.pii_revealed",
      targetType: "user",
      targetId: row.id,
      ipAddress: staff.ipAddress,
      userAgent: staff.userAgent,
      details: { field: parsed.data.field, reason: parsed.data.reason },
    });
  });
  return { field: parsed.data.field, value };
}
