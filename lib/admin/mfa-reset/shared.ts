import "server-only";
import { and, eq } from "drizzle-orm";
import type { Transaction } from "@/db/client";
import { mfaResetRequests, users } from "@/db/schema";
import type { StaffSessionActor } from "@/lib/admin/staff-action";
import type { SessionActor, StaffActor } from "@/lib/auth/actor";
import type { FieldContext } from "@/lib/crypto";
import { BankError } from "@/lib/errors";

/**
 * Pieces shared by the MFA reset use cases (lib/admin/mfa-reset). Resetting a customer's second factor hands
 * the account to whoever can follow the emailed link with the password, so it takes two staff members: one
 * requests with a reason, a different one approves. Every use case starts with `requireStaffPermission`.
 */

/** The staff actor with its session id, which the payload-bound step-up needs. */
export function withSession(staff: StaffActor, actor: SessionActor): StaffSessionActor {
  return { ...staff, sessionId: actor.sessionId };
}

/** Where a request's reason is stored: encrypted with the PII key, bound to its row. */
export function mfaResetReasonField(requestId: string): FieldContext {
  return { table: "mfa_reset_requests", column: "reason", rowId: requestId };
}

export function contextOf(actor: StaffActor) {
  return { ipAddress: actor.ipAddress, userAgent: actor.userAgent };
}

export const requestNotFound = () =>
  new BankError("not_found", { userMessage: "That reset request does not exist or was already decided." });

/** The pending request, row-locked for the rest of the transaction, or not_found. */
export async function lockPendingRequest(tx: Transaction, requestId: string) {
  const [request] = await tx
    .select({
      id: mfaResetRequests.id,
      customerId: mfaResetRequests.customerId,
      requestedBy: mfaResetRequests.requestedBy,
    })
    .from(mfaResetRequests)
    .where(and(eq(mfaResetRequests.id, requestId), eq(mfaResetRequests.status, "pending")))
    .for("update")
    .limit(1);
  if (!request) throw requestNotFound();
  return request;
}

/** The customer's row, locked: the reset and an enrolment through the link must not interleave. */
export async function lockCustomer(tx: Transaction, customerId: string) {
  const [customer] = await tx
    .select({
      id: users.id,
      emailCiphertext: users.emailCiphertext,
      totpEnrolledAt: users.totpEnrolledAt,
      mfaReenrolmentRequiredAt: users.mfaReenrolmentRequiredAt,
    })
    .from(users)
    .where(and(eq(users.id, customerId), eq(users.role, "customer")))
    .for("update")
    .limit(1);
  if (!customer) throw new BankError("not_found", { userMessage: "There is no customer with that id." });
  return customer;
}
