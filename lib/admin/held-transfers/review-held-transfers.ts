import "server-only";
import crypto from "node:crypto";
import { sql } from "drizzle-orm";
import { database, executeRows, type Queryable, type Transaction } from "@/db/client";
import { transferReviews } from "@/db/schema";
import type { Actor, SessionActor, StaffActor } from "@/lib/auth/actor";
import { recordAuditEvent } from "@/lib/audit/record-audit-event";
import { requireStepUpForPayload } from "@/lib/auth/step-up";
import { stepUpOperationHash } from "@/lib/auth/step-up-operations";
import { requireStaffPermission } from "@/lib/admin/staff-guard";
import { approvalsNeededFor, reviewsOf } from "@/lib/admin/held-transfers/read-held-transfers";
import {
  approveHeldTransferSchema,
  commentOnHeldTransferSchema,
  heldTransferReferenceSchema,
  rejectHeldTransferSchema,
} from "@/lib/admin/held-transfers/schemas";
import { BankError } from "@/lib/errors";
import { approveHeldTransfer as postHeldTransfer, rejectHeldTransfer as releaseHeldTransfer } from "@/lib/ledger/decide-transfers";
import { withPostingRetries } from "@/lib/ledger/posting-retries";

/**
 * Staff decisions on held transfers, with four eyes (issue 9, "Held transfers"):
 * - every approval is by a staff member other than the one who first reviewed or commented on the transfer
 *   (the author of its first review row). An approval is never that first review itself: someone else must
 *   have looked at the transfer (commented) before anyone may approve it, so two people always see it;
 * - a transfer above HELD_TRANSFER_SECOND_APPROVER_ABOVE_MINOR needs two approvals by two different staff
 *   members, neither of them the first reviewer; the approval that completes the requirement posts it;
 * - rejecting is not restricted by four eyes (the issue restricts approvals only): anyone with
 *   `transfers.reject`, the first reviewer included, may reject with a reason, which releases the hold. Stopping
 *   money is the safe direction.
 *
 * Each change runs in one transaction that first locks the transfer row (SELECT … FOR UPDATE). Decisions and
 * reviews of one transfer therefore happen one after another: two parallel approvals cannot both see "one
 * approval so far" and post twice, one person cannot count twice, and the first reviewer is well defined. The
 * review row, the ledger's decision (lib/ledger/decide-transfers.ts, run inside this transaction) and the audit
 * event commit together or not at all. The lock order is the ledger's own (the transfer first, then the limits
 * row and the accounts, taken by the ledger function), so these transactions cannot deadlock with postings.
 *
 * Audit events: the ledger function writes `ledger.transfer.approved` / `ledger.transfer.rejected` with the
 * deciding staff member; this module adds `staff.transfer.commented` and, for an approval that does not yet
 * post, `staff.transfer.approval_recorded`. No event is written twice for one change, and none carries a note
 * (notes are free text; they live in transfer_reviews).
 */

const notWaiting = () => new BankError("conflict", { userMessage: "That transfer is no longer waiting for review." });

interface LockedTransfer {
  status: string;
  amountMinor: bigint;
  currency: string;
}

/** Locks the transfer row for the rest of the transaction; not_found unless it was held for review. */
async function lockHeldTransfer(tx: Transaction, transferId: string): Promise<LockedTransfer> {
  const [row] = await executeRows<{ status: unknown; amount_minor: unknown; currency: unknown }>(
    tx,
    sql`select status, amount_minor::text as amount_minor, currency from transfers
         where id = ${transferId}::uuid and hold_reason is not null for update`,
  );
  if (!row) throw new BankError("not_found");
  return { status: String(row.status), amountMinor: BigInt(String(row.amount_minor)), currency: String(row.currency) };
}

async function appendReview(
  tx: Transaction,
  transferId: string,
  staff: StaffActor,
  kind: "comment" | "approval" | "rejection",
  note: string | undefined,
): Promise<void> {
  // The review's time is read when the row is written, after the lock was granted (not the transaction's start):
  // the order of reviews is then the order in which they happened under the lock.
  await tx.insert(transferReviews).values({
    id: crypto.randomUUID(),
    transferId,
    staffUserId: staff.userId,
    kind,
    note: note ?? null,
    createdAt: sql`clock_timestamp()`,
  });
}

/** The four-eyes check of one approval against the reviews so far; throws the refusal, or answers the count. */
async function checkFourEyes(
  queryable: Queryable,
  transferId: string,
  staff: StaffActor,
  amountMinor: bigint,
): Promise<{ approvalsBefore: number; approvalsNeeded: 1 | 2 }> {
  const reviews = await reviewsOf(queryable, transferId);
  const firstReviewer = reviews[0]?.staffUserId;
  if (firstReviewer === undefined) {
    throw new BankError("conflict", {
      userMessage: "Another staff member must review this transfer (add a comment) before anyone can approve it.",
    });
  }
  if (firstReviewer === staff.userId) {
    throw new BankError("conflict", {
      userMessage: "You reviewed this transfer first, so another staff member must approve it (four eyes).",
    });
  }
  const approvers = new Set(reviews.filter((review) => review.kind === "approval").map((review) => review.staffUserId));
  if (approvers.has(staff.userId)) {
    throw new BankError("conflict", { userMessage: "You have already approved this transfer; a different staff member must approve it." });
  }
  return { approvalsBefore: approvers.size, approvalsNeeded: approvalsNeededFor(amountMinor) };
}

function auditContext(staff: StaffActor) {
  return { actorId: staff.userId, actorRole: staff.role, ipAddress: staff.ipAddress, userAgent: staff.userAgent };
}

/** Adds a staff comment to a held transfer. The first comment makes its author the first reviewer. */
export async function commentOnHeldTransfer(actor: Actor | null | undefined, transferId: string, note: string): Promise<void> {
  const staff = requireStaffPermission(actor, "transfers.comment");
  const input = commentOnHeldTransferSchema.safeParse({ transferId, note });
  if (!input.success) {
    if (!heldTransferReferenceSchema.safeParse({ transferId }).success) throw new BankError("not_found");
    throw new BankError("invalid_input", { fieldErrors: { note: [input.error.issues[0]?.message ?? "Write a note."] } });
  }
  await withPostingRetries(() =>
    database().transaction(async (tx) => {
      const locked = await lockHeldTransfer(tx, input.data.transferId);
      if (locked.status !== "held") throw notWaiting();
      await appendReview(tx, input.data.transferId, staff, "comment", input.data.note);
      await recordAuditEvent(tx, {
        ...auditContext(staff),
        action: "staff.transfer.commented",
        targetType: "transfer",
        targetId: input.data.transferId,
      });
    }),
  );
}

export interface ApprovalOutcome {
  transferId: string;
  /** `posted` when this approval completed the requirement; `held` when another approver is still needed. */
  status: "posted" | "held";
  approvals: number;
  approvalsNeeded: 1 | 2;
}

/**
 * Approves a held transfer (four eyes, step-up bound to the transfer). The approval that completes the
 * requirement posts the transfer through the ledger in the same transaction as its review row.
 */
export async function approveHeldTransfer(
  actor: Actor | SessionActor | null | undefined,
  transferId: string,
  note?: string,
): Promise<ApprovalOutcome> {
  const staff = requireStaffPermission(actor, "transfers.approve");
  const input = approveHeldTransferSchema.safeParse({ transferId, note });
  if (!input.success) {
    if (!heldTransferReferenceSchema.safeParse({ transferId }).success) throw new BankError("not_found");
    throw new BankError("invalid_input", { fieldErrors: { note: [input.error.issues[0]?.message ?? "Use at most 500 characters."] } });
  }
  const id = input.data.transferId;
  // A first look without locks, so that a refused approval (not held, four eyes) does not spend the staff
  // member's step-up confirmation. The same checks run again under the lock below, which is the rule.
  const current = await readHeldTransferState(database(), id);
  if (current.status !== "held") throw notWaiting();
  await checkFourEyes(database(), id, staff, current.amountMinor);
  if (!actor || !("sessionId" in actor)) throw new BankError("step_up_required", { internalMessage: "approval without a session" });
  await requireStepUpForPayload(actor, stepUpOperationHash("staff_approve_transfer", actor, { transferId: id }));

  return withPostingRetries(() =>
    database().transaction(async (tx) => {
      const locked = await lockHeldTransfer(tx, id);
      if (locked.status !== "held") throw notWaiting();
      const { approvalsBefore, approvalsNeeded } = await checkFourEyes(tx, id, staff, locked.amountMinor);
      await appendReview(tx, id, staff, "approval", input.data.note);
      const approvals = approvalsBefore + 1;
      if (approvals >= approvalsNeeded) {
        // The ledger function posts the transfer and writes `ledger.transfer.approved` in this transaction.
        await postHeldTransfer(staff, id, input.data.note ?? "approved after review", { within: tx });
        return { transferId: id, status: "posted" as const, approvals, approvalsNeeded };
      }
      await recordAuditEvent(tx, {
        ...auditContext(staff),
        action: "staff.transfer.approval_recorded",
        targetType: "transfer",
        targetId: id,
        details: { approvals, approvalsNeeded, amountMinor: locked.amountMinor.toString(), currency: locked.currency },
      });
      return { transferId: id, status: "held" as const, approvals, approvalsNeeded };
    }),
  );
}

/** The pre-check's read, without a lock (the decision itself locks and checks again). */
async function readHeldTransferState(queryable: Queryable, transferId: string): Promise<LockedTransfer> {
  const [row] = await executeRows<{ status: unknown; amount_minor: unknown; currency: unknown }>(
    queryable,
    sql`select status, amount_minor::text as amount_minor, currency from transfers
         where id = ${transferId}::uuid and hold_reason is not null`,
  );
  if (!row) throw new BankError("not_found");
  return { status: String(row.status), amountMinor: BigInt(String(row.amount_minor)), currency: String(row.currency) };
}

/**
 * Rejects a held transfer with a reason: the hold is released through the ledger (which writes
 * `ledger.transfer.rejected`), and the rejection is a review row, in one transaction. Four eyes does not apply.
 */
export async function rejectHeldTransfer(actor: Actor | null | undefined, transferId: string, reason: string): Promise<{ transferId: string; status: "rejected" }> {
  const staff = requireStaffPermission(actor, "transfers.reject");
  const input = rejectHeldTransferSchema.safeParse({ transferId, reason });
  if (!input.success) {
    if (!heldTransferReferenceSchema.safeParse({ transferId }).success) throw new BankError("not_found");
    throw new BankError("invalid_input", { fieldErrors: { reason: [input.error.issues[0]?.message ?? "Give a reason for rejecting."] } });
  }
  const id = input.data.transferId;
  return withPostingRetries(() =>
    database().transaction(async (tx) => {
      const locked = await lockHeldTransfer(tx, id);
      if (locked.status !== "held") throw notWaiting();
      await appendReview(tx, id, staff, "rejection", input.data.reason);
      await releaseHeldTransfer(staff, id, input.data.reason, { within: tx });
      return { transferId: id, status: "rejected" as const };
    }),
  );
}
