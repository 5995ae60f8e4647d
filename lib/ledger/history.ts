import "server-only";
import { and, asc, desc, eq, gte, lt, sql, type SQL } from "drizzle-orm";
import { alias } from "drizzle-orm/pg-core";
import { database } from "@/db/client";
import { accounts, ledgerEntries, payees, transfers } from "@/db/schema";
import { ownedAccountsFilter } from "@/lib/accounts/owned-accounts";
import type { CustomerActor } from "@/lib/auth/actor";
import { decryptField } from "@/lib/crypto";
import { BankError, assert } from "@/lib/errors";
import { transferMemoField } from "@/lib/ledger/post-transfer";
import { payeeNameField } from "@/lib/payees/list-my-payees";
import { encodeHistoryCursor, type HistoryQuery } from "@/lib/validation/history";

/**
 * Transaction history for customers: their ledger entries, newest first, with keyset pagination on
 * `ledger_entries.entry_sequence` and the filters of lib/validation/history.ts. The ownership filter is part
 * of every query (the entry's account joined with `ownedAccountsFilter`), so another customer's entries are
 * never read, and naming another customer's account is `not_found`.
 *
 * What a customer learns about the other side of an entry is deliberately limited: their own account's
 * nickname, the name they gave a payee, "Harbour Bank" for the bank's own accounts, and for money from another
 * customer only "Payment received" (the sender's legal name is that customer's personal data).
 */

export type TransferKind = "deposit" | "internal" | "external" | "reversal";
export type TransferStatus = "posted" | "held" | "rejected" | "reversed";

/** One line of a customer's history. Never a row or ciphertext. */
export interface HistoryEntry {
  id: string;
  postedAt: Date;
  accountId: string;
  accountNickname: string;
  accountNumber: string;
  direction: "in" | "out";
  /** Signed: negative for money out. */
  amountMinor: bigint;
  balanceAfterMinor: bigint;
  currency: string;
  counterparty: string;
  memo: string | null;
  transferId: string;
  transferKind: TransferKind;
  transferStatus: TransferStatus;
}

export interface HistoryPage {
  entries: HistoryEntry[];
  /** The cursor of the next (older) page, or null when nothing older matches. */
  nextCursor: string | null;
  /**
   * True when a text search stopped because it spent its scan budget before filling the page: there may be
   * older matches, and `nextCursor` continues the search where it stopped.
   */
  searchStoppedEarly: boolean;
}

/** A held payment: it has left the available balance but is not in the ledger until staff decide. */
export interface PendingTransfer {
  transferId: string;
  createdAt: Date;
  accountId: string;
  accountNickname: string;
  amountMinor: bigint;
  currency: string;
  counterparty: string;
  memo: string | null;
}

export const bankCounterpartyLabel = "Harbour Bank";
export const incomingFromCustomerLabel = "Payment received";
export const reversedPaymentLabel = "Reversed payment";

/**
 * A text search decrypts every entry it looks at (memos and payee names are encrypted, so the database
 * cannot match them), so it reads the ledger in batches of this many rows and stops after looking at the
 * scan budget in one request, handing back a cursor that continues the search. This bounds the work (and
 * the decryptions) one request can cause, however rare the text is in a long history.
 */
export interface TextSearchScan {
  batchSize: number;
  budgetRows: number;
}
const defaultTextSearchScan: TextSearchScan = { batchSize: 100, budgetRows: 1_000 };

const counterpartyAccounts = alias(accounts, "counterparty_accounts");

/** The columns one history line is built from. */
const entryColumns = {
  id: ledgerEntries.id,
  sequence: ledgerEntries.entrySequence,
  postedAt: ledgerEntries.createdAt,
  accountId: ledgerEntries.accountId,
  accountNickname: accounts.nickname,
  accountNumber: accounts.accountNumber,
  amountMinor: ledgerEntries.amountMinor,
  balanceAfterMinor: ledgerEntries.balanceAfterMinor,
  currency: accounts.currency,
  transferId: transfers.id,
  transferKind: transfers.kind,
  transferStatus: transfers.status,
  memoCiphertext: transfers.memoCiphertext,
  payeeId: payees.id,
  payeeOwnerId: payees.ownerId,
  payeeNameCiphertext: payees.nameCiphertext,
  counterpartyKind: counterpartyAccounts.kind,
  counterpartyOwnerId: counterpartyAccounts.ownerId,
  counterpartyNickname: counterpartyAccounts.nickname,
};

interface EntryRow {
  id: string;
  sequence: bigint;
  postedAt: Date;
  accountId: string;
  accountNickname: string;
  accountNumber: string;
  amountMinor: bigint;
  balanceAfterMinor: bigint;
  currency: string;
  transferId: string;
  transferKind: TransferKind;
  transferStatus: TransferStatus;
  memoCiphertext: string | null;
  payeeId: string | null;
  payeeOwnerId: string | null;
  payeeNameCiphertext: string | null;
  counterpartyKind: "checking" | "savings" | "system" | null;
  counterpartyOwnerId: string | null;
  counterpartyNickname: string | null;
}

/**
 * Selects entries of the actor's accounts with everything a line needs. The counterparty is the account on
 * the other leg of the transfer: the credit account for money out, the debit account for money in.
 */
function selectEntries(actor: CustomerActor, conditions: SQL[]) {
  return database()
    .select(entryColumns)
    .from(ledgerEntries)
    .innerJoin(accounts, and(eq(accounts.id, ledgerEntries.accountId), ownedAccountsFilter(actor)))
    .innerJoin(transfers, eq(transfers.id, ledgerEntries.transferId))
    .leftJoin(payees, eq(payees.id, transfers.payeeId))
    .leftJoin(
      counterpartyAccounts,
      eq(
        counterpartyAccounts.id,
        sql`case when ${ledgerEntries.amountMinor} < 0 then ${transfers.creditAccountId} else ${transfers.debitAccountId} end`,
      ),
    )
    .where(and(...conditions));
}

async function counterpartyLabel(actor: CustomerActor, row: EntryRow): Promise<string> {
  if (row.counterpartyKind === "system") return bankCounterpartyLabel;
  if (row.counterpartyOwnerId === actor.userId && row.counterpartyNickname !== null) return row.counterpartyNickname;
  // The payee is the sender's record: only the customer who saved it sees its name.
  if (row.payeeId !== null && row.payeeNameCiphertext !== null && row.payeeOwnerId === actor.userId) {
    return decryptField(row.payeeNameCiphertext, payeeNameField(row.payeeId));
  }
  // A reversal carries no payee or memo of its own (it points at the original transfer).
  if (row.transferKind === "reversal") return reversedPaymentLabel;
  return row.amountMinor > 0n ? incomingFromCustomerLabel : "Payment sent";
}

async function toHistoryEntry(actor: CustomerActor, row: EntryRow): Promise<HistoryEntry> {
  const [counterparty, memo] = await Promise.all([
    counterpartyLabel(actor, row),
    row.memoCiphertext === null ? null : decryptField(row.memoCiphertext, transferMemoField(row.transferId), "memo"),
  ]);
  return {
    id: row.id,
    postedAt: row.postedAt,
    accountId: row.accountId,
    accountNickname: row.accountNickname,
    accountNumber: row.accountNumber,
    direction: row.amountMinor < 0n ? "out" : "in",
    amountMinor: row.amountMinor,
    balanceAfterMinor: row.balanceAfterMinor,
    currency: row.currency,
    counterparty,
    memo: memo === "" ? null : memo,
    transferId: row.transferId,
    transferKind: row.transferKind,
    transferStatus: row.transferStatus,
  };
}

async function entriesFromRows(actor: CustomerActor, rows: EntryRow[]): Promise<HistoryEntry[]> {
  return Promise.all(rows.map((row) => toHistoryEntry(actor, row)));
}

/** Refuses anyone but a customer, and an account that is not theirs, with not_found. */
export async function requireOwnedAccount(
  actor: CustomerActor,
  accountId: string,
): Promise<{ id: string; nickname: string; accountNumber: string; currency: string; createdAt: Date }> {
  if (actor.kind !== "customer") throw new BankError("not_found");
  const [account] = await database()
    .select({
      id: accounts.id,
      nickname: accounts.nickname,
      accountNumber: accounts.accountNumber,
      currency: accounts.currency,
      createdAt: accounts.createdAt,
    })
    .from(accounts)
    .where(and(eq(accounts.id, accountId), ownedAccountsFilter(actor)));
  if (!account) throw new BankError("not_found", { internalMessage: "history: the account is not the customer's" });
  return account;
}

/** The start of a UTC calendar day given as YYYY-MM-DD (already validated), plus whole days. */
function utcDayStart(date: string, plusDays = 0): Date {
  const start = new Date(`${date}T00:00:00.000Z`);
  assert(!Number.isNaN(start.getTime()), "validated date did not parse");
  start.setUTCDate(start.getUTCDate() + plusDays);
  return start;
}

function filterConditions(query: HistoryQuery): SQL[] {
  const conditions: SQL[] = [];
  if (query.accountId !== undefined) conditions.push(eq(ledgerEntries.accountId, query.accountId));
  if (query.fromDate !== undefined) conditions.push(gte(ledgerEntries.createdAt, utcDayStart(query.fromDate)));
  // The end date is included: everything before the start of the next day.
  if (query.toDate !== undefined) conditions.push(lt(ledgerEntries.createdAt, utcDayStart(query.toDate, 1)));
  if (query.minimumAmountMinor !== undefined) {
    conditions.push(sql`abs(${ledgerEntries.amountMinor}) >= ${query.minimumAmountMinor}`);
  }
  if (query.maximumAmountMinor !== undefined) {
    conditions.push(sql`abs(${ledgerEntries.amountMinor}) <= ${query.maximumAmountMinor}`);
  }
  if (query.direction === "in") conditions.push(sql`${ledgerEntries.amountMinor} > 0`);
  if (query.direction === "out") conditions.push(sql`${ledgerEntries.amountMinor} < 0`);
  return conditions;
}

/** Case- and accent-form-insensitive containment, on the same NFC form the memo was stored in. */
function normaliseForSearch(value: string): string {
  return value.normalize("NFC").toLocaleLowerCase("en-GB");
}

function matchesText(entry: HistoryEntry, needle: string): boolean {
  return (
    normaliseForSearch(entry.counterparty).includes(needle) ||
    (entry.memo !== null && normaliseForSearch(entry.memo).includes(needle))
  );
}

/**
 * One page of the customer's history (one account, or all of theirs), newest first.
 *
 * Without a text search the page is one indexed query of `pageSize + 1` rows (the extra row says whether an
 * older page exists). With a text search, rows are read and decrypted in batches until the page is full or
 * the scan budget is spent; in the second case the answer carries the cursor of the last row looked at and
 * `searchStoppedEarly`, and the caller continues from there (the page's "Search older transactions" link). A page can then be
 * short or even empty while older matches still exist.
 *
 * Keyset pagination on the sequence means that entries posted while someone pages through their history
 * never shift the pages: new entries have larger sequences and only ever appear on the first page.
 */
export async function listAccountHistory(
  actor: CustomerActor,
  query: HistoryQuery,
  // Only tests pass smaller numbers, to reach the budget without posting thousands of transfers.
  textSearchScan: TextSearchScan = defaultTextSearchScan,
): Promise<HistoryPage> {
  if (actor.kind !== "customer") throw new BankError("not_found");
  if (query.accountId !== undefined) await requireOwnedAccount(actor, query.accountId);

  const baseConditions = filterConditions(query);
  const needle = query.text === undefined ? null : normaliseForSearch(query.text);
  const batchSize = needle === null ? query.pageSize + 1 : textSearchScan.batchSize;
  const entries: HistoryEntry[] = [];
  let lastEntrySequence: bigint | undefined;
  let beforeSequence = query.beforeSequence;
  let scannedRows = 0;

  for (;;) {
    const conditions = [...baseConditions];
    if (beforeSequence !== undefined) conditions.push(lt(ledgerEntries.entrySequence, beforeSequence));
    const rows = await selectEntries(actor, conditions).orderBy(desc(ledgerEntries.entrySequence)).limit(batchSize);
    const batch = await entriesFromRows(actor, rows);

    for (const [index, entry] of batch.entries()) {
      const row = rows[index];
      assert(row !== undefined, "history batch and rows differ");
      if (needle !== null && !matchesText(entry, needle)) continue;
      if (entries.length === query.pageSize) {
        // One more match exists beyond a full page: the next page starts after the page's last entry.
        assert(lastEntrySequence !== undefined, "a full page has a last entry");
        return { entries, nextCursor: encodeHistoryCursor(lastEntrySequence), searchStoppedEarly: false };
      }
      entries.push(entry);
      lastEntrySequence = row.sequence;
    }

    scannedRows += rows.length;
    const lastRowOfBatch = rows.at(-1);
    if (rows.length < batchSize || lastRowOfBatch === undefined) {
      return { entries, nextCursor: null, searchStoppedEarly: false };
    }
    beforeSequence = lastRowOfBatch.sequence;
    if (needle !== null && scannedRows >= textSearchScan.budgetRows) {
      return { entries, nextCursor: encodeHistoryCursor(beforeSequence), searchStoppedEarly: true };
    }
  }
}

/**
 * The customer's held payments (one account, or all of theirs), newest first. A held transfer has no ledger
 * entries yet, so it is not in the history; the page shows these above it. Only the sending side sees a
 * held payment: for the recipient nothing has happened yet.
 */
export async function listPendingTransfers(actor: CustomerActor, accountId?: string): Promise<PendingTransfer[]> {
  if (actor.kind !== "customer") throw new BankError("not_found");
  if (accountId !== undefined) await requireOwnedAccount(actor, accountId);
  const conditions: SQL[] = [eq(transfers.status, "held")];
  if (accountId !== undefined) conditions.push(eq(transfers.debitAccountId, accountId));
  const rows = await database()
    .select({
      transferId: transfers.id,
      createdAt: transfers.createdAt,
      accountId: accounts.id,
      accountNickname: accounts.nickname,
      amountMinor: transfers.amountMinor,
      currency: transfers.currency,
      memoCiphertext: transfers.memoCiphertext,
      kind: transfers.kind,
      payeeId: payees.id,
      payeeOwnerId: payees.ownerId,
      payeeNameCiphertext: payees.nameCiphertext,
      creditOwnerId: counterpartyAccounts.ownerId,
      creditNickname: counterpartyAccounts.nickname,
    })
    .from(transfers)
    .innerJoin(accounts, and(eq(accounts.id, transfers.debitAccountId), ownedAccountsFilter(actor)))
    .innerJoin(counterpartyAccounts, eq(counterpartyAccounts.id, transfers.creditAccountId))
    .leftJoin(payees, eq(payees.id, transfers.payeeId))
    .where(and(...conditions))
    .orderBy(desc(transfers.createdAt))
    // Holds are rare (only payments above the review threshold); the bound keeps a page from growing.
    .limit(50);
  return Promise.all(
    rows.map(async (row) => {
      let counterparty = "Payment sent";
      if (row.creditOwnerId === actor.userId) counterparty = row.creditNickname;
      else if (row.payeeId !== null && row.payeeNameCiphertext !== null && row.payeeOwnerId === actor.userId) {
        counterparty = await decryptField(row.payeeNameCiphertext, payeeNameField(row.payeeId));
      }
      const memo =
        row.memoCiphertext === null
          ? null
          : await decryptField(row.memoCiphertext, transferMemoField(row.transferId), "memo");
      return {
        transferId: row.transferId,
        createdAt: row.createdAt,
        accountId: row.accountId,
        accountNickname: row.accountNickname,
        amountMinor: row.amountMinor,
        currency: row.currency,
        counterparty,
        memo: memo === "" ? null : memo,
      };
    }),
  );
}

/** For statements (lib/ledger/statements.ts): one account's entries in a time range, oldest first. */
export async function listEntriesBetween(
  actor: CustomerActor,
  accountId: string,
  startInclusive: Date,
  endExclusive: Date,
): Promise<HistoryEntry[]> {
  const rows = await selectEntries(actor, [
    eq(ledgerEntries.accountId, accountId),
    gte(ledgerEntries.createdAt, startInclusive),
    lt(ledgerEntries.createdAt, endExclusive),
  ]).orderBy(asc(ledgerEntries.entrySequence));
  return entriesFromRows(actor, rows);
}

/** The balance after the last entry before `before` (by sequence), or null when there is none. */
export async function balanceBefore(actor: CustomerActor, accountId: string, before: Date): Promise<bigint | null> {
  const [row] = await database()
    .select({ balanceAfterMinor: ledgerEntries.balanceAfterMinor })
    .from(ledgerEntries)
    .innerJoin(accounts, and(eq(accounts.id, ledgerEntries.accountId), ownedAccountsFilter(actor)))
    .where(and(eq(ledgerEntries.accountId, accountId), lt(ledgerEntries.createdAt, before)))
    .orderBy(desc(ledgerEntries.entrySequence))
    .limit(1);
  return row?.balanceAfterMinor ?? null;
}

/** The UTC months (YYYY-MM) in which an owned account has entries, newest first. */
export async function listMonthsWithEntries(actor: CustomerActor, accountId: string): Promise<string[]> {
  const month = sql<string>`to_char(${ledgerEntries.createdAt} at time zone 'UTC', 'YYYY-MM')`;
  const rows = await database()
    .selectDistinct({ month })
    .from(ledgerEntries)
    .innerJoin(accounts, and(eq(accounts.id, ledgerEntries.accountId), ownedAccountsFilter(actor)))
    .where(eq(ledgerEntries.accountId, accountId))
    .orderBy(desc(month));
  return rows.map((row) => row.month);
}
