import "server-only";
import { and, eq, inArray, or } from "drizzle-orm";
import { alias } from "drizzle-orm/pg-core";
import { z } from "zod";
import { database } from "@/db/client";
import { accounts, payees, transfers } from "@/db/schema";
import { ownedAccountsFilter } from "@/lib/accounts/owned-accounts";
import type { CustomerActor } from "@/lib/auth/actor";
import { decryptField } from "@/lib/crypto";
import { BankError } from "@/lib/errors";
import { transferMemoField } from "@/lib/ledger/post-transfer";
import { payeeNameField } from "@/lib/payees/list-my-payees";

/**
 * What a customer sees of one transfer. Never a row, a hash or ciphertext. Account numbers are given only
 * for the customer's own side (and for a payee of theirs, whose number they typed themselves); the other
 * side of a transfer from or to someone else stays null, so that reading a transfer reveals nothing the
 * customer did not already know.
 */
export interface TransferDetails {
  id: string;
  status: "posted" | "held" | "rejected" | "reversed";
  kind: "deposit" | "internal" | "external" | "reversal";
  /** From the caller's point of view: money leaving them, arriving, or moving between their own accounts. */
  direction: "outgoing" | "incoming" | "between_own_accounts";
  amountMinor: bigint;
  currency: string;
  fromAccountId: string | null;
  fromAccountNumber: string | null;
  toAccountId: string | null;
  toAccountNumber: string | null;
  /** The name the caller saved for the payee, when the transfer went to one of their payees. */
  payeeName: string | null;
  memo: string;
  createdAt: Date;
  postedAt: Date | null;
}

const transferIdSchema = z.uuid();

/**
 * One transfer, if it is the caller's: they initiated it, or it debits or credits one of their accounts.
 * Anything else, and any id that is not a uuid, is not_found, exactly like a transfer that does not exist.
 */
export async function getMyTransfer(actor: CustomerActor, transferId: string): Promise<TransferDetails> {
  // The type says customer, but a type is not validation: the check is repeated where the data is.
  if (actor.kind !== "customer" || actor.role !== "customer") throw new BankError("not_found");
  if (!transferIdSchema.safeParse(transferId).success) {
    throw new BankError("not_found", { internalMessage: "transfer id is not a uuid" });
  }

  const debitAccount = alias(accounts, "debit_account");
  const creditAccount = alias(accounts, "credit_account");
  // The caller's own accounts, as a subquery built from the one ownership filter.
  const ownAccountIds = database().select({ id: accounts.id }).from(accounts).where(ownedAccountsFilter(actor));

  const [row] = await database()
    .select({
      id: transfers.id,
      status: transfers.status,
      kind: transfers.kind,
      initiatedBy: transfers.initiatedBy,
      amountMinor: transfers.amountMinor,
      currency: transfers.currency,
      memoCiphertext: transfers.memoCiphertext,
      createdAt: transfers.createdAt,
      postedAt: transfers.postedAt,
      debitAccountId: transfers.debitAccountId,
      debitOwnerId: debitAccount.ownerId,
      debitOwnerRole: debitAccount.ownerRole,
      debitAccountNumber: debitAccount.accountNumber,
      creditAccountId: transfers.creditAccountId,
      creditOwnerId: creditAccount.ownerId,
      creditOwnerRole: creditAccount.ownerRole,
      creditAccountNumber: creditAccount.accountNumber,
      payeeId: payees.id,
      payeeOwnerId: payees.ownerId,
      payeeNameCiphertext: payees.nameCiphertext,
    })
    .from(transfers)
    .innerJoin(debitAccount, eq(debitAccount.id, transfers.debitAccountId))
    .innerJoin(creditAccount, eq(creditAccount.id, transfers.creditAccountId))
    .leftJoin(payees, eq(payees.id, transfers.payeeId))
    .where(
      and(
        eq(transfers.id, transferId),
        or(
          eq(transfers.initiatedBy, actor.userId),
          inArray(transfers.debitAccountId, ownAccountIds),
          inArray(transfers.creditAccountId, ownAccountIds),
        ),
      ),
    )
    .limit(1);
  if (!row) throw new BankError("not_found", { internalMessage: "transfer is not the customer's or does not exist" });

  const ownsDebit = row.debitOwnerId === actor.userId && row.debitOwnerRole === "customer";
  const ownsCredit = row.creditOwnerId === actor.userId && row.creditOwnerRole === "customer";
  // A payee name is the caller's own words only when the payee is theirs; the recipient of a payment must not
  // learn what the sender called them.
  const ownPayee = row.payeeId !== null && row.payeeOwnerId === actor.userId;
  const direction: TransferDetails["direction"] =
    ownsDebit && ownsCredit ? "between_own_accounts" : ownsDebit || row.initiatedBy === actor.userId ? "outgoing" : "incoming";

  const memo =
    row.memoCiphertext === null ? "" : await decryptField(row.memoCiphertext, transferMemoField(row.id), "memo");
  const payeeName =
    ownPayee && row.payeeId !== null && row.payeeNameCiphertext !== null
      ? await decryptField(row.payeeNameCiphertext, payeeNameField(row.payeeId))
      : null;

  return {
    id: row.id,
    status: row.status,
    kind: row.kind,
    direction,
    amountMinor: row.amountMinor,
    currency: row.currency,
    fromAccountId: ownsDebit ? row.debitAccountId : null,
    fromAccountNumber: ownsDebit ? row.debitAccountNumber : null,
    toAccountId: ownsCredit ? row.creditAccountId : null,
    toAccountNumber: ownsCredit || ownPayee ? row.creditAccountNumber : null,
    payeeName,
    memo,
    createdAt: row.createdAt,
    postedAt: row.postedAt,
  };
}
