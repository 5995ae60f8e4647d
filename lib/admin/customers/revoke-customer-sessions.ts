import "server-only";
import { and, eq } from "drizzle-orm";
import { database } from "@/db/client";
import { users } from "@/db/schema";
import { requireStaffPermission } from "@/lib/admin/staff-guard";
import { customerIdPattern } from "@/lib/admin/customers/customer-record";
import type { Actor } from "@/lib/auth/actor";
import { recordAuditEvent } from "@/lib/audit/record-audit-event";
import { revokeAllSessions } from "@/lib/auth/sessions";
import { BankError } from "@/lib/errors";

/**
 * Ends every live session of a customer (a lost phone, a shared computer). Sessions are checked against the
 * database on every request (lib/auth/sessions.ts), so the customer is signed out on their very next request,
 * whatever their cookie says. Returns how many sessions ended; the audit event records the count.
 */
export async function revokeCustomerSessions(actor: Actor | null, customerId: string): Promise<number> {
  const staff = requireStaffPermission(actor, "customers.revoke_sessions");
  if (!customerIdPattern.test(customerId)) throw new BankError("not_found");
  return database().transaction(async (tx) => {
    // The customer's row, locked, so that the revocation and a sign-in finishing at the same moment take turns.
    const [customer] = await tx
      .select({ id: users.id })
      .from(users)
      .where(and(eq(users.id, customerId), eq(users.role, "customer")))
      .for("update");
    if (!customer) throw new BankError("not_found");
    const count = await revokeAllSessions(tx, customer.id, "staff_lock");
    await recordAuditEvent(tx, {
      actorId: staff.userId,
      actorRole: staff.role,
      action: "staff.customer.sessions_revoked",
      targetType: "user",
      targetId: customer.id,
      ipAddress: staff.ipAddress,
      userAgent: staff.userAgent,
      details: { count },
    });
    return count;
  });
}
