/**
 * Customers, accounts and payees for ledger tests and the ledger benchmark, written straight into the
 * caller's database. Money only ever arrives through `postSystemDeposit` from the bank's funding account, so
 * the ledger as a whole keeps summing to zero, exactly as in the running bank.
 */
import crypto from "node:crypto";
import { sql, type SQL } from "drizzle-orm";
import { database, executeRows } from "@/db/client";
import { accounts, payees, users } from "@/db/schema";
import { bankCurrency } from "@/lib/accounts/bank-currency";
import { randomAccountNumber } from "@/lib/accounts/open-account";
import { systemActor, type CustomerActor } from "@/lib/auth/actor";
import { blindIndex, encryptField, normaliseEmail } from "@/lib/crypto";
import { postSystemDeposit } from "@/lib/ledger/post-system-deposit";
import type { TransferringCustomer } from "@/lib/ledger/post-transfer";
import { systemAccountId } from "@/lib/ledger/system-accounts";
import { payeeNameField } from "@/lib/payees/list-my-payees";

/** Creates a verified customer who can never sign in with a password (the hash is not a valid one). */
export async function createTestCustomer(label: string): Promise<TransferringCustomer> {
  const id = crypto.randomUUID();
  const email = normaliseEmail(`${label}-${id}@example.com`);
  await database()
    .insert(users)
    .values({
      id,
      role: "customer",
      emailCiphertext: await encryptField(email, { table: "users", column: "email", rowId: id }),
      emailBlindIndex: await blindIndex("email", email),
      legalNameCiphertext: await encryptField(`Test ${label}`, { table: "users", column: "legal_name", rowId: id }),
      passwordHash: "no-password",
      emailVerifiedAt: new Date(),
      termsAcceptedAt: new Date(),
    });
  return { kind: "customer", role: "customer", userId: id, ipAddress: "198.51.100.9", userAgent: "ledger-test", sessionId: null };
}

/** Opens an account for the customer and funds it from the bank's funding account (nothing when zero). */
export async function openFundedAccount(
  owner: TransferringCustomer,
  amountMinor: bigint,
  kind: "checking" | "savings" = "checking",
): Promise<string> {
  const id = crypto.randomUUID();
  await database()
    .insert(accounts)
    .values({ id, ownerId: owner.userId, ownerRole: "customer", kind, accountNumber: randomAccountNumber(), currency: bankCurrency, nickname: kind });
  if (amountMinor > 0n) {
    const fundingAccountId = await systemAccountId(database(), "funding");
    await postSystemDeposit(systemActor("test-funding"), { fundingAccountId, customerAccountId: id, amountMinor });
  }
  return id;
}

/** How `savePayee` saves a payee: the name the owner gave it, and when (by default three days ago). */
export interface PayeeOptions {
  name?: string;
  createdAt?: Date;
}

/** Saves a payee, by default old enough that paying it needs no first-payment confirmation. */
export async function savePayee(owner: CustomerActor, accountId: string, options: PayeeOptions = {}): Promise<string> {
  const { name = "Payee", createdAt = new Date(Date.now() - 3 * 86_400_000) } = options;
  const id = crypto.randomUUID();
  await database()
    .insert(payees)
    .values({
      id,
      ownerId: owner.userId,
      accountId,
      nameCiphertext: await encryptField(name, payeeNameField(id)),
      matchResult: "exact_match",
      createdAt,
    });
  return id;
}

export interface LedgerInvariantReport {
  ledgerTotalMinor: bigint;
  unbalancedTransfers: number;
  accountsNotMatchingEntries: number;
  accountsAvailableAbovePosted: number;
  customerAccountsBelowZero: number;
  /** Accounts whose posted − available differs from the sum of their held transfers. */
  accountsWithWrongHeldAmount: number;
  /** Customers whose counted sends today exceed `dailyLimitMinor`. */
  customersOverDailyLimit: number;
}

/** Every ledger invariant, each as a count of violations (all zero when the ledger is sound). */
export async function checkLedgerInvariants(dailyLimitMinor: bigint): Promise<LedgerInvariantReport> {
  const db = database();
  const count = async (query: SQL) => {
    const [row] = await executeRows<{ violations: unknown }>(db, query);
    return Number(row?.violations ?? 0);
  };
  const [total] = await executeRows<{ total: unknown }>(db, sql`select coalesce(sum(amount_minor), 0)::text as total from ledger_entries`);
  return {
    ledgerTotalMinor: BigInt(String(total?.total ?? "0")),
    unbalancedTransfers: await count(sql`select count(*)::int as violations from (
      select transfer_id from ledger_entries group by transfer_id having sum(amount_minor) <> 0) unbalanced`),
    accountsNotMatchingEntries: await count(sql`select count(*)::int as violations from (
      select a.id from accounts a left join ledger_entries e on e.account_id = a.id
      group by a.id, a.balance_minor having a.balance_minor <> coalesce(sum(e.amount_minor), 0)) drifted`),
    accountsAvailableAbovePosted: await count(sql`select count(*)::int as violations from accounts where available_minor > balance_minor`),
    customerAccountsBelowZero: await count(
      sql`select count(*)::int as violations from accounts where kind <> 'system' and (balance_minor < 0 or available_minor < 0)`,
    ),
    accountsWithWrongHeldAmount: await count(sql`select count(*)::int as violations from (
      select a.id from accounts a left join transfers t on t.debit_account_id = a.id and t.status = 'held'
      group by a.id, a.balance_minor, a.available_minor
      having a.balance_minor - a.available_minor <> coalesce(sum(t.amount_minor), 0)) wrong_hold`),
    customersOverDailyLimit: await count(
      sql`select count(*)::int as violations from customer_limits where sent_on_day_minor > ${dailyLimitMinor.toString()}::bigint`,
    ),
  };
}

export const soundLedger: LedgerInvariantReport = {
  ledgerTotalMinor: 0n,
  unbalancedTransfers: 0,
  accountsNotMatchingEntries: 0,
  accountsAvailableAbovePosted: 0,
  customerAccountsBelowZero: 0,
  accountsWithWrongHeldAmount: 0,
  customersOverDailyLimit: 0,
};
