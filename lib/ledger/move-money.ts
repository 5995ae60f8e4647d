import "server-only";
import { and, eq } from "drizzle-orm";
import { database } from "@/db/client";
import { accounts, payees } from "@/db/schema";
import { ownedAccountsFilter } from "@/lib/accounts/owned-accounts";
import type { CustomerActor, SessionActor } from "@/lib/auth/actor";
import { decryptField } from "@/lib/crypto";
import { BankError } from "@/lib/errors";
import { postCustomerTransfer, type PostedTransfer } from "@/lib/ledger/post-transfer";
import { payeeNameField } from "@/lib/payees/list-my-payees";
import type { TransferRequest } from "@/lib/validation/transfer";

/** What the "Move money" page shows after a transfer was accepted. Never a row. */
export interface MoveMoneyReceipt {
  transferId: string;
  status: PostedTransfer["status"];
  /** True when a retry of the same attempt (same idempotency key) answered with the original transfer. */
  replayed: boolean;
  amountMinor: bigint;
  currency: string;
  fromNickname: string;
  fromAccountNumber: string;
  /** The destination as the customer knows it: their account's nickname or their payee's name. */
  toLabel: string;
  /** The source account's available balance after this transfer (a held amount has already left it). */
  fromAvailableMinor: bigint;
}

async function destinationLabel(actor: CustomerActor, request: TransferRequest): Promise<string> {
  if (request.to.kind === "own_account") {
    const [account] = await database()
      .select({ nickname: accounts.nickname })
      .from(accounts)
      .where(and(eq(accounts.id, request.to.accountId), ownedAccountsFilter(actor)))
      .limit(1);
    if (!account) throw new BankError("not_found");
    return account.nickname;
  }
  const [payee] = await database()
    .select({ id: payees.id, nameCiphertext: payees.nameCiphertext })
    .from(payees)
    .where(and(eq(payees.id, request.to.payeeId), eq(payees.ownerId, actor.userId)))
    .limit(1);
  if (!payee) throw new BankError("not_found");
  return decryptField(payee.nameCiphertext, payeeNameField(payee.id));
}

/**
 * The customer's "Move money": posts (or holds for review) one transfer through the ledger's one posting
 * function, then reads back what the confirmation screen shows. Every refusal is the BankError of
 * postCustomerTransfer (lib/ledger/post-transfer.ts), including step_up_required for a transfer that needs a
 * confirmation bound to it. The session id is what such a confirmation belongs to.
 */
export async function moveMoney(actor: SessionActor, request: TransferRequest): Promise<MoveMoneyReceipt> {
  // Staff hold no accounts; to them this page's action does not exist.
  if (actor.kind !== "customer") throw new BankError("not_found");
  const posted = await postCustomerTransfer(actor, request);
  const [source] = await database()
    .select({
      nickname: accounts.nickname,
      accountNumber: accounts.accountNumber,
      currency: accounts.currency,
      availableMinor: accounts.availableMinor,
    })
    .from(accounts)
    .where(and(eq(accounts.id, request.fromAccountId), ownedAccountsFilter(actor)))
    .limit(1);
  // The posting function checked ownership already; an account that is not theirs cannot have been debited.
  if (!source) throw new BankError("internal", { internalMessage: "posted from an account the customer does not own" });
  return {
    transferId: posted.transferId,
    status: posted.status,
    replayed: posted.replayed,
    amountMinor: request.amountMinor,
    currency: source.currency,
    fromNickname: source.nickname,
    fromAccountNumber: source.accountNumber,
    toLabel: await destinationLabel(actor, request),
    fromAvailableMinor: source.availableMinor,
  };
}

