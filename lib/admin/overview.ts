import "server-only";
import { and, count, eq, gt, gte, ne, sql } from "drizzle-orm";
import { database, type Queryable } from "@/db/client";
import { accounts, transfers, users } from "@/db/schema";
import type { Actor } from "@/lib/auth/actor";
import { requireStaffPermission } from "@/lib/admin/staff-guard";

/** One currency's total of the customers' posted balances, in minor units. */
export interface DepositTotal {
  currency: string;
  totalMinor: bigint;
}

/** The back office's overview: counts and totals only, never a customer's detail. */
export interface Overview {
  customerCount: number;
  depositTotals: DepositTotal[];
  transfersCreatedToday: number;
  heldTransfersWaiting: number;
  customersLockedOut: number;
  /** The start of "today" (UTC midnight) the transfer count was taken from, and the moment of the figures. */
  dayStartedAt: Date;
  readAt: Date;
}

function startOfUtcDay(moment: Date): Date {
  return new Date(Date.UTC(moment.getUTCFullYear(), moment.getUTCMonth(), moment.getUTCDate()));
}

/**
 * The overview's figures. "Today" is the UTC calendar day, as every time on the staff pages is shown in UTC.
 * Deposits are the posted balances (`balance_minor`, not the available amount) of customer accounts only: the
 * bank's own system accounts carry the other side of every deposit and would cancel the total out.
 */
export async function readOverview(actor: Actor | null, queryable: Queryable = database(), now: Date = new Date()): Promise<Overview> {
  requireStaffPermission(actor, "overview.read");
  const dayStartedAt = startOfUtcDay(now);
  const [customers, deposits, today, held, locked] = await Promise.all([
    queryable.select({ value: count() }).from(users).where(eq(users.role, "customer")),
    queryable
      // PostgreSQL's sum of a bigint is a numeric; read as text, it becomes a bigint without passing through a float.
      .select({ currency: accounts.currency, total: sql<string>`coalesce(sum(${accounts.balanceMinor}), 0)::text` })
      .from(accounts)
      .where(ne(accounts.kind, "system"))
      .groupBy(accounts.currency)
      .orderBy(accounts.currency),
    queryable.select({ value: count() }).from(transfers).where(gte(transfers.createdAt, dayStartedAt)),
    queryable.select({ value: count() }).from(transfers).where(eq(transfers.status, "held")),
    queryable
      .select({ value: count() })
      .from(users)
      .where(and(eq(users.role, "customer"), gt(users.lockedUntil, now))),
  ]);
  return {
    customerCount: customers[0]?.value ?? 0,
    depositTotals: deposits.map((row) => ({ currency: row.currency, totalMinor: BigInt(row.total) })),
    transfersCreatedToday: today[0]?.value ?? 0,
    heldTransfersWaiting: held[0]?.value ?? 0,
    customersLockedOut: locked[0]?.value ?? 0,
    dayStartedAt,
    readAt: now,
  };
}
