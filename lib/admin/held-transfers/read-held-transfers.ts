import "server-only";
import { sql } from "drizzle-orm";
import { database, executeRows, type Queryable } from "@/db/client";
import type { Actor } from "@/lib/auth/actor";
import { requireStaffPermission } from "@/lib/admin/staff-guard";
import { heldTransferReferenceSchema, heldTransferQueueSchema } from "@/lib/admin/held-transfers/schemas";
import { env } from "@/lib/env";
import { BankError } from "@/lib/errors";

/**
 * The held-transfer queue and one held transfer with its reviews, for the back office (issue 9, "Held
 * transfers"). Plain DTOs only: amounts as bigint minor units, account numbers masked to their last four
 * digits (staff need to tell transfers apart, not to copy account numbers), no customer names or memos.
 */

export const heldTransferQueuePageSize = 25;

/** How many approvals a held transfer of this amount needs: two different approvers above the threshold. */
export function approvalsNeededFor(amountMinor: bigint): 1 | 2 {
  return amountMinor > env().transferLimits.secondApproverAboveMinor ? 2 : 1;
}

/** "•••• 1234": enough to tell accounts apart on the queue, not enough to pay them. */
export function maskAccountNumber(accountNumber: string): string {
  return `•••• ${accountNumber.slice(-4)}`;
}

export interface HeldTransferSummary {
  transferId: string;
  status: "held" | "posted" | "rejected" | "reversed";
  heldSince: Date;
  ageSeconds: number;
  amountMinor: bigint;
  currency: string;
  holdReason: string;
  fromAccount: string;
  toAccount: string;
  approvals: number;
  approvalsNeeded: 1 | 2;
  /** Whether this transfer needs a second approver (its amount is above the configured threshold). */
  needsSecondApprover: boolean;
}

export interface HeldTransferQueuePage {
  transfers: HeldTransferSummary[];
  /** Pass back to get the next (newer) page; null on the last page. */
  nextCursor: string | null;
}

export interface TransferReviewView {
  id: string;
  kind: "comment" | "approval" | "rejection";
  note: string | null;
  staffUserId: string;
  staffRole: string;
  byYou: boolean;
  createdAt: Date;
}

export interface HeldTransferDetail extends HeldTransferSummary {
  decidedAt: Date | null;
  decisionReason: string | null;
  reviews: TransferReviewView[];
  /** The staff member who reviewed or commented first; they may not approve (four eyes). */
  firstReviewerId: string | null;
}

type SummaryRow = {
  id: unknown;
  status: unknown;
  created_at: unknown;
  amount_minor: unknown;
  currency: unknown;
  hold_reason: unknown;
  from_number: unknown;
  to_number: unknown;
  approvals: unknown;
  decided_at: unknown;
  decision_reason: unknown;
};

function asDate(value: unknown): Date {
  return value instanceof Date ? value : new Date(String(value));
}

function summaryOf(row: SummaryRow, now: Date): HeldTransferSummary {
  const amountMinor = BigInt(String(row.amount_minor));
  const heldSince = asDate(row.created_at);
  const approvalsNeeded = approvalsNeededFor(amountMinor);
  return {
    transferId: String(row.id),
    status: String(row.status) as HeldTransferSummary["status"],
    heldSince,
    ageSeconds: Math.max(0, Math.floor((now.getTime() - heldSince.getTime()) / 1000)),
    amountMinor,
    currency: String(row.currency),
    holdReason: String(row.hold_reason),
    fromAccount: maskAccountNumber(String(row.from_number)),
    toAccount: maskAccountNumber(String(row.to_number)),
    approvals: Number(row.approvals),
    approvalsNeeded,
    needsSecondApprover: approvalsNeeded === 2,
  };
}

// Everything a summary shows, from one statement: the transfer, both account numbers and the approval count
// (distinct approvers: one person never counts twice, even if a row were somehow written twice).
const summarySelect = sql`
  select t.id, t.status, t.created_at, t.amount_minor::text as amount_minor, t.currency, t.hold_reason,
         debit.account_number as from_number, credit.account_number as to_number,
         (select count(distinct r.staff_user_id) from transfer_reviews r
           where r.transfer_id = t.id and r.kind = 'approval')::int as approvals,
         t.decided_at, t.decision_reason
    from transfers t
    join accounts debit on debit.id = t.debit_account_id
    join accounts credit on credit.id = t.credit_account_id`;

/** The queue: held transfers waiting for a decision, oldest first, keyset-paginated by (held since, id). */
export async function listHeldTransfers(actor: Actor | null | undefined, cursor?: string): Promise<HeldTransferQueuePage> {
  requireStaffPermission(actor, "transfers.read_held");
  const parsed = heldTransferQueueSchema.safeParse({ cursor });
  // A malformed cursor is someone editing the address bar: start from the beginning rather than fail.
  const after = parsed.success ? parsed.data.cursor : undefined;
  const rows = await executeRows<SummaryRow>(
    database(),
    sql`${summarySelect}
     where t.status = 'held'
       ${after === undefined ? sql`` : sql`and (t.created_at, t.id) > (select c.created_at, c.id from transfers c where c.id = ${after}::uuid)`}
     order by t.created_at, t.id
     limit ${heldTransferQueuePageSize + 1}`,
  );
  const now = new Date();
  const page = rows.slice(0, heldTransferQueuePageSize).map((row) => summaryOf(row, now));
  const last = page.at(-1);
  return { transfers: page, nextCursor: rows.length > heldTransferQueuePageSize && last ? last.transferId : null };
}

/** How many transfers wait for review (the overview's figure and the queue's heading). */
export async function countHeldTransfers(actor: Actor | null | undefined): Promise<number> {
  requireStaffPermission(actor, "transfers.read_held");
  const [row] = await executeRows<{ waiting: unknown }>(database(), sql`select count(*)::int as waiting from transfers where status = 'held'`);
  return Number(row?.waiting ?? 0);
}

/** A transfer's reviews, oldest first: the first row's author is the first reviewer. */
export async function reviewsOf(queryable: Queryable, transferId: string): Promise<Array<Omit<TransferReviewView, "byYou">>> {
  const rows = await executeRows<{ id: unknown; kind: unknown; note: unknown; staff_user_id: unknown; role: unknown; created_at: unknown }>(
    queryable,
    sql`select r.id, r.kind, r.note, r.staff_user_id, u.role, r.created_at
          from transfer_reviews r join users u on u.id = r.staff_user_id
         where r.transfer_id = ${transferId}::uuid
         order by r.created_at, r.id`,
  );
  return rows.map((row) => ({
    id: String(row.id),
    kind: String(row.kind) as TransferReviewView["kind"],
    note: row.note === null ? null : String(row.note),
    staffUserId: String(row.staff_user_id),
    staffRole: String(row.role),
    createdAt: asDate(row.created_at),
  }));
}

/**
 * One transfer that was held for review (waiting, or already decided), with its reviews. Any other transfer,
 * and a malformed id, is not_found: the back office reviews holds, it does not browse payments here.
 */
export async function readHeldTransfer(actor: Actor | null | undefined, transferId: string): Promise<HeldTransferDetail> {
  const staff = requireStaffPermission(actor, "transfers.read_held");
  const parsed = heldTransferReferenceSchema.safeParse({ transferId });
  if (!parsed.success) throw new BankError("not_found");
  const db = database();
  const [row] = await executeRows<SummaryRow>(
    db,
    sql`${summarySelect} where t.id = ${parsed.data.transferId}::uuid and t.hold_reason is not null`,
  );
  if (!row) throw new BankError("not_found");
  const reviews = (await reviewsOf(db, parsed.data.transferId)).map((review) => ({ ...review, byYou: review.staffUserId === staff.userId }));
  return {
    ...summaryOf(row, new Date()),
    decidedAt: row.decided_at === null ? null : asDate(row.decided_at),
    decisionReason: row.decision_reason === null ? null : String(row.decision_reason),
    reviews,
    firstReviewerId: reviews[0]?.staffUserId ?? null,
  };
}
