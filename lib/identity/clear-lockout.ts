import "server-only";
import { and, eq } from "drizzle-orm";
import { database } from "@/db/client";
import { users } from "@/db/schema";
import type { StaffActor } from "@/lib/auth/actor";
import { recordAuditEvent } from "@/lib/audit/record-audit-event";
import { BankError } from "@/lib/errors";

/**
 * Lets support staff end a customer's lockout: the lock and the failure count are both cleared, so nothing
 * left behind keeps refusing the customer (a count of four would otherwise lock them again on one typo).
 * Per-IP rate-limit counters are not per customer and are left alone. The back-office screen that calls this
 * comes with the admin issue; the rule on who may call it lives here, with the data.
 */
export async function clearLockout(actor: StaffActor, customerId: string): Promise<void> {
  if (actor.kind !== "staff" || (actor.role !== "admin" && actor.role !== "support")) {
    throw new BankError("not_found");
  }
  await database().transaction(async (tx) => {
    const cleared = await tx
      .update(users)
      .set({ failedSignInCount: 0, lockedUntil: null })
      .where(and(eq(users.id, customerId), eq(users.role, "customer")))
      .returning({ id: users.id });
    if (cleared.length !== 1) throw new BankError("not_found");
    await recordAuditEvent(tx, {
      actorId: actor.userId,
      actorRole: actor.role,
      action: "staff.customer.lockout_cleared",
      targetType: "user",
      targetId: customerId,
      ipAddress: actor.ipAddress,
      userAgent: actor.userAgent,
    });
  });
}
