import "server-only";
import { and, desc, eq, gt, inArray, isNull, or } from "drizzle-orm";
import { alias } from "drizzle-orm/pg-core";
import { database } from "@/db/client";
import { accounts, sessions, signInEvents, transfers } from "@/db/schema";
import { requireStaffPermission } from "@/lib/admin/staff-guard";
import { loadCustomerRow, maskedCustomerField } from "@/lib/admin/customers/customer-record";
import type { Actor } from "@/lib/auth/actor";
import { isLockedAt } from "@/lib/auth/lockout";
import { sessionLimitsFromConfiguration } from "@/lib/auth/sessions";
import type { LoginHistoryEntry } from "@/lib/identity/account-security";
import { revealableCustomerFields, type RevealableCustomerField } from "@/lib/validation/admin-customers";

export interface MaskedProfileField {
  field: RevealableCustomerField;
  /** The masked value, or null when the bank holds none (nothing to reveal). */
  masked: string | null;
}

export interface CustomerAccountSummary {
  id: string;
  accountNumber: string;
  kind: "checking" | "savings";
  currency: string;
  status: "active" | "frozen" | "closed";
  postedMinor: bigint;
  availableMinor: bigint;
}

export interface CustomerTransferSummary {
  id: string;
  createdAt: Date;
  kind: "deposit" | "internal" | "external" | "reversal";
  status: "posted" | "held" | "rejected" | "reversed";
  /** Seen from the customer: money out, money in, or between two of their own accounts. */
  direction: "out" | "in" | "own";
  amountMinor: bigint;
  currency: string;
  debitAccountNumber: string;
  creditAccountNumber: string;
  holdReason: string | null;
}

export interface CustomerSessionSummary {
  id: string;
  createdAt: Date;
  lastSeenAt: Date;
  ipAddress: string | null;
  userAgent: string | null;
}

export interface CustomerDetail {
  id: string;
  createdAt: Date;
  locked: boolean;
  lockedUntil: Date | null;
  emailVerified: boolean;
  authenticatorEnrolled: boolean;
  profile: MaskedProfileField[];
  accounts: CustomerAccountSummary[];
  recentTransfers: CustomerTransferSummary[];
  sessions: CustomerSessionSummary[];
  loginHistory: LoginHistoryEntry[];
}

const recentTransferCount = 20;
const loginHistoryCount = 20;
const listedSessionCount = 50;

/**
 * A customer's page in the back office: profile with every PII field masked, accounts with posted and
 * available balances, the last 20 transfers in either direction, live sessions and recent sign-in attempts.
 * A malformed or unknown id, or the id of a staff member, is not_found.
 */
export async function readCustomerDetail(actor: Actor | null, customerId: string): Promise<CustomerDetail> {
  requireStaffPermission(actor, "customers.read");
  const db = database();
  const row = await loadCustomerRow(db, customerId);
  const now = new Date();

  const profile: MaskedProfileField[] = [];
  for (const field of revealableCustomerFields) profile.push({ field, masked: await maskedCustomerField(row, field) });

  const accountRows = await db
    .select({
      id: accounts.id,
      accountNumber: accounts.accountNumber,
      kind: accounts.kind,
      currency: accounts.currency,
      status: accounts.status,
      postedMinor: accounts.balanceMinor,
      availableMinor: accounts.availableMinor,
    })
    .from(accounts)
    .where(and(eq(accounts.ownerId, row.id), eq(accounts.ownerRole, "customer")))
    .orderBy(accounts.createdAt, accounts.accountNumber);
  const customerAccounts = accountRows.flatMap((account) =>
    account.kind === "system" ? [] : [{ ...account, kind: account.kind }],
  );
  const accountIds = customerAccounts.map((account) => account.id);

  let recentTransfers: CustomerTransferSummary[] = [];
  if (accountIds.length > 0) {
    const debitAccount = alias(accounts, "debit_account");
    const creditAccount = alias(accounts, "credit_account");
    const transferRows = await db
      .select({
        id: transfers.id,
        createdAt: transfers.createdAt,
        kind: transfers.kind,
        status: transfers.status,
        amountMinor: transfers.amountMinor,
        currency: transfers.currency,
        debitAccountId: transfers.debitAccountId,
        creditAccountId: transfers.creditAccountId,
        debitAccountNumber: debitAccount.accountNumber,
        creditAccountNumber: creditAccount.accountNumber,
        holdReason: transfers.holdReason,
      })
      .from(transfers)
      .innerJoin(debitAccount, eq(debitAccount.id, transfers.debitAccountId))
      .innerJoin(creditAccount, eq(creditAccount.id, transfers.creditAccountId))
      .where(or(inArray(transfers.debitAccountId, accountIds), inArray(transfers.creditAccountId, accountIds)))
      .orderBy(desc(transfers.createdAt), desc(transfers.id))
      .limit(recentTransferCount);
    const own = new Set(accountIds);
    recentTransfers = transferRows.map((transfer) => {
      const sends = own.has(transfer.debitAccountId);
      const receives = own.has(transfer.creditAccountId);
      return {
        id: transfer.id,
        createdAt: transfer.createdAt,
        kind: transfer.kind,
        status: transfer.status,
        direction: sends && receives ? "own" : sends ? "out" : "in",
        amountMinor: transfer.amountMinor,
        currency: transfer.currency,
        debitAccountNumber: transfer.debitAccountNumber,
        creditAccountNumber: transfer.creditAccountNumber,
        holdReason: transfer.holdReason,
      };
    });
  }

  // Live sessions only, by the same limits that validate them: an idle or expired session no longer lets
  // anyone in, so it is not something staff need to revoke.
  const limits = sessionLimitsFromConfiguration();
  const sessionRows = await db
    .select({
      id: sessions.id,
      createdAt: sessions.createdAt,
      lastSeenAt: sessions.lastSeenAt,
      ipAddress: sessions.ipAddress,
      userAgent: sessions.userAgent,
    })
    .from(sessions)
    .where(
      and(
        eq(sessions.userId, row.id),
        isNull(sessions.revokedAt),
        gt(sessions.lastSeenAt, new Date(now.getTime() - limits.idleTimeoutSeconds * 1000)),
        gt(sessions.createdAt, new Date(now.getTime() - limits.absoluteLifetimeSeconds * 1000)),
      ),
    )
    .orderBy(desc(sessions.lastSeenAt))
    .limit(listedSessionCount);

  const loginHistory = await db
    .select({
      occurredAt: signInEvents.occurredAt,
      outcome: signInEvents.outcome,
      ipAddress: signInEvents.ipAddress,
      userAgent: signInEvents.userAgent,
    })
    .from(signInEvents)
    .where(eq(signInEvents.userId, row.id))
    .orderBy(desc(signInEvents.occurredAt), desc(signInEvents.id))
    .limit(loginHistoryCount);

  return {
    id: row.id,
    createdAt: row.createdAt,
    locked: isLockedAt(row.lockedUntil, now),
    lockedUntil: row.lockedUntil,
    emailVerified: row.emailVerifiedAt !== null,
    authenticatorEnrolled: row.totpEnrolledAt !== null,
    profile,
    accounts: customerAccounts,
    recentTransfers,
    sessions: sessionRows.map((session) => ({ ...session })),
    loginHistory: loginHistory.map((entry) => ({ ...entry })),
  };
}
