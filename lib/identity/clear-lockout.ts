import "server-only";
import { and, eq } from "drizzle-orm";
import { database } from "@/db/client";
import { users } from "@/db/schema";
import { requireStaffPermission } from "@/lib/admin/staff-guard";
import type { Actor } from "@/lib/auth/actor";
import { recordAuditEvent } from "@/lib/audit/record-audit-event";
import { BankError } from "@/lib/errors";

// A malformed id would otherwise reach the database as a uuid cast error; it names nobody.
const customerIdPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Lets support staff end a customer's lockout: the lock and the failure count are both cleared, so nothing
 * left behind keeps refusing the customer (a count of four would otherwise lock them again on one typo).
 * Per-IP rate-limit counters are not per customer and are left alone. Who may call it is the back office's
 * permission matrix (`customers.clear_lockout`, lib/admin/permissions.ts); the back-office screen calls it
 * through lib/admin/customers/clear-customer-lockout.ts.
 */
export async function clearLockout(actor: Actor | null, customerId: string): Promise<void> {
  const staff = requireStaffPermission(actor, "customers.clear_lockout");
  if (!customerIdPattern.test(customerId)) throw new BankError("not_found");
  await database().transaction(async (tx) => {
    const cleared = await tx
      .update(users)
      .set({ failedSignInCount: 0, lockedUntil: null })
      .where(and(eq(users.id, customerId), eq(users.role, "customer")))
      .returning({ id: users.id });
    if (cleared.length !== 1) throw new BankError("not_found");
    await recordAuditEvent(tx, {
      actorId: staff.userId,
      actorRole: staff.role,
      action: "staff.customer.lockout_cleared",
      targetType: "user",
      targetId: customerId,
      ipAddress: staff.ipAddress,
      userAgent: staff.userAgent,
    });
  });
}
