import "server-only";
import { and, desc, eq, inArray, or, sql } from "drizzle-orm";
import { alias } from "drizzle-orm/pg-core";
import { database } from "@/db/client";
import { accounts, payees, transfers } from "@/db/schema";
import { ownedAccountsFilter } from "@/lib/accounts/owned-accounts";
import type { CustomerActor } from "@/lib/auth/actor";
import { decryptField } from "@/lib/crypto";
import { BankError } from "@/lib/errors";
import { transferMemoField } from "@/lib/ledger/post-transfer";
import { payeeNameField } from "@/lib/payees/list-my-payees";

/**
 * The dashboard's recent activity: the customer's latest money movements across all their accounts, one line
 * per transfer (a move between two of their own accounts is one line, not two).
 *
 * What the customer may see of the other side is decided here and nowhere else:
 * - their own accounts by nickname;
 * - a payee by the name they saved it under (their own data);
 * - money from another customer as "Payment received" with the sender's reference: the sender's legal name
 *   and account are someone else's personal data;
 * - the bank's system accounts (deposits, openings) as "Harbour Bank".
 * Incoming transfers appear only once they are posted (or posted and later reversed): a payment held for
 * review, or rejected, never reached the recipient, so the recipient does not see it at all.
 */

export const bankDisplayName = "Harbour Bank";

export type ActivityDirection = "incoming" | "outgoing" | "between_own_accounts";
export type ActivityStatus = "posted" | "pending_review" | "rejected" | "reversed";

/** One line of recent activity. Never a row, a ciphertext or another customer's name. */
export interface ActivityItem {
  transferId: string;
  /** When the money moved (or, for a held or rejected transfer, when it was asked for). */
  occurredAt: Date;
  direction: ActivityDirection;
  status: ActivityStatus;
  /** Always positive; `direction` says which way it went. */
  amountMinor: bigint;
  currency: string;
  /** The customer's own account the line is about: the source for outgoing and own moves, else the destination. */
  accountNickname: string;
  /** Who or what is on the other side, as this customer may see it (see above). */
  counterpartyLabel: string;
  /** The reference typed by whoever sent the money; empty when there is none. */
  memo: string;
  /** Whether this line is a correction reversing an earlier transfer. */
  isReversal: boolean;
}

export const defaultRecentActivityLimit = 8;

const debitAccount = alias(accounts, "debit_account");
const creditAccount = alias(accounts, "credit_account");

function statusOf(status: "posted" | "held" | "rejected" | "reversed"): ActivityStatus {
  return status === "held" ? "pending_review" : status;
}

/** The latest `limit` movements (at most 50) on the customer's own accounts, newest first. */
export async function listRecentActivity(actor: CustomerActor, limit = defaultRecentActivityLimit): Promise<ActivityItem[]> {
  // The type says customer, but a type is not validation: the check is repeated where the data is.
  if (actor.kind !== "customer") throw new BankError("not_found");
  const boundedLimit = Math.min(Math.max(Math.trunc(limit), 1), 50);
  const db = database();
  const ownedAccountIds = db.select({ id: accounts.id }).from(accounts).where(ownedAccountsFilter(actor));
  const rows = await db
    .select({
      id: transfers.id,
      kind: transfers.kind,
      status: transfers.status,
      amountMinor: transfers.amountMinor,
      currency: transfers.currency,
      memoCiphertext: transfers.memoCiphertext,
      createdAt: transfers.createdAt,
      postedAt: transfers.postedAt,
      debitOwnerId: debitAccount.ownerId,
      debitKind: debitAccount.kind,
      debitNickname: debitAccount.nickname,
      creditOwnerId: creditAccount.ownerId,
      creditKind: creditAccount.kind,
      creditNickname: creditAccount.nickname,
      payeeId: payees.id,
      payeeOwnerId: payees.ownerId,
      payeeNameCiphertext: payees.nameCiphertext,
    })
    .from(transfers)
    .innerJoin(debitAccount, eq(debitAccount.id, transfers.debitAccountId))
    .innerJoin(creditAccount, eq(creditAccount.id, transfers.creditAccountId))
    .leftJoin(payees, eq(payees.id, transfers.payeeId))
    .where(
      or(
        inArray(transfers.debitAccountId, ownedAccountIds),
        and(inArray(transfers.creditAccountId, ownedAccountIds), inArray(transfers.status, ["posted", "reversed"])),
      ),
    )
    // Ordered by when the money moved, which is what the line shows: a held payment approved later moves then.
    .orderBy(desc(sql`coalesce(${transfers.postedAt}, ${transfers.createdAt})`), desc(transfers.createdAt), desc(transfers.id))
    .limit(boundedLimit);

  return Promise.all(
    rows.map(async (row): Promise<ActivityItem> => {
      // The SQL filter already limited rows to the customer's accounts; ownership of each side is decided
      // again from the owners, so that a label is never taken from the wrong side.
      const debitIsMine = row.debitKind !== "system" && row.debitOwnerId === actor.userId;
      const creditIsMine = row.creditKind !== "system" && row.creditOwnerId === actor.userId;
      if (!debitIsMine && !creditIsMine) {
        throw new BankError("internal", { internalMessage: "recent activity reached a transfer of someone else" });
      }
      const direction: ActivityDirection =
        debitIsMine && creditIsMine ? "between_own_accounts" : debitIsMine ? "outgoing" : "incoming";
      const isReversal = row.kind === "reversal";

      let counterpartyLabel: string;
      if (direction === "between_own_accounts") {
        counterpartyLabel = row.creditNickname;
      } else if (direction === "outgoing") {
        if (row.creditKind === "system") counterpartyLabel = bankDisplayName;
        else if (isReversal) counterpartyLabel = "Payment returned to the sender";
        else if (row.payeeId !== null && row.payeeOwnerId === actor.userId && row.payeeNameCiphertext !== null) {
          counterpartyLabel = await decryptField(row.payeeNameCiphertext, payeeNameField(row.payeeId));
        } else counterpartyLabel = "Payment sent";
      } else if (row.debitKind === "system") {
        counterpartyLabel = bankDisplayName;
      } else {
        counterpartyLabel = isReversal ? "Payment returned" : "Payment received";
      }

      const memo =
        row.memoCiphertext === null ? "" : await decryptField(row.memoCiphertext, transferMemoField(row.id), "memo");
      return {
        transferId: row.id,
        occurredAt: row.postedAt ?? row.createdAt,
        direction,
        status: statusOf(row.status),
        amountMinor: row.amountMinor,
        currency: row.currency,
        accountNickname: direction === "incoming" ? row.creditNickname : row.debitNickname,
        counterpartyLabel,
        memo,
        isReversal,
      };
    }),
  );
}
