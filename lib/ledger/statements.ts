import "server-only";
import type { CustomerActor } from "@/lib/auth/actor";
import { BankError } from "@/lib/errors";
import {
  balanceBefore,
  listEntriesBetween,
  listMonthsWithEntries,
  requireOwnedAccount,
  type HistoryEntry,
} from "@/lib/ledger/history";
import { logger } from "@/lib/logger";

/** A month written as YYYY-MM, from 2000-01 to 9999-12. */
const monthPattern = /^(\d{4})-(0[1-9]|1[0-2])$/;

/** The first instant of a YYYY-MM month in UTC and the first instant of the next, or null for anything else. */
export function monthRange(month: string): { start: Date; end: Date } | null {
  const match = monthPattern.exec(month);
  if (!match) return null;
  const year = Number(match[1]);
  const monthIndex = Number(match[2]) - 1;
  if (year < 2000) return null;
  return { start: new Date(Date.UTC(year, monthIndex, 1)), end: new Date(Date.UTC(year, monthIndex + 1, 1)) };
}

export interface MonthlyStatement {
  account: { id: string; nickname: string; accountNumber: string; currency: string };
  month: string;
  periodStart: Date;
  periodEnd: Date;
  openingBalanceMinor: bigint;
  closingBalanceMinor: bigint;
  totalInMinor: bigint;
  totalOutMinor: bigint;
  entries: HistoryEntry[];
}

/**
 * One account's statement for one UTC calendar month: every entry of the month, oldest first, between the
 * opening balance (the balance after the last entry before the month, or zero when there is none) and the
 * closing balance (the balance after the month's last entry, or the opening balance in a quiet month).
 * The totals are sums of the entries shown, so opening + in - out = closing can be checked on paper; the
 * function checks it.
 */
export async function getMonthlyStatement(actor: CustomerActor, accountId: string, month: string): Promise<MonthlyStatement> {
  const range = monthRange(month);
  if (!range) throw new BankError("not_found", { internalMessage: "statement: not a month" });
  const account = await requireOwnedAccount(actor, accountId);
  const [openingBalance, entries] = await Promise.all([
    balanceBefore(actor, account.id, range.start),
    listEntriesBetween(actor, account.id, range.start, range.end),
  ]);
  const openingBalanceMinor = openingBalance ?? 0n;
  let totalInMinor = 0n;
  let totalOutMinor = 0n;
  for (const entry of entries) {
    if (entry.amountMinor > 0n) totalInMinor += entry.amountMinor;
    else totalOutMinor -= entry.amountMinor;
  }
  const closingBalanceMinor = entries.at(-1)?.balanceAfterMinor ?? openingBalanceMinor;
  // Months are cut by the entries' timestamps, while balances follow the entry sequence. The two orders agree
  // except for postings racing across midnight at the month's end (a transaction's timestamp is taken before
  // it waits for the account lock). Such a statement is still correct entry by entry, so it is shown and the
  // disagreement is logged for the operators rather than turned into an error page.
  if (openingBalanceMinor + totalInMinor - totalOutMinor !== closingBalanceMinor) {
    logger.warn({ accountId, month }, "statement totals do not add up to the closing balance");
  }
  return {
    account: { id: account.id, nickname: account.nickname, accountNumber: account.accountNumber, currency: account.currency },
    month,
    periodStart: range.start,
    periodEnd: range.end,
    openingBalanceMinor,
    closingBalanceMinor,
    totalInMinor,
    totalOutMinor,
    entries,
  };
}

/** The months an owned account has statements for (months with entries), newest first. */
export async function listStatementMonths(
  actor: CustomerActor,
  accountId: string,
): Promise<{ account: { id: string; nickname: string; accountNumber: string }; months: string[] }> {
  const account = await requireOwnedAccount(actor, accountId);
  const months = await listMonthsWithEntries(actor, account.id);
  return { account: { id: account.id, nickname: account.nickname, accountNumber: account.accountNumber }, months };
}
