import "server-only";
import crypto from "node:crypto";
import { databaseHandle } from "@/db/client";
import type { CustomerActor } from "@/lib/auth/actor";
import { stepUpPayloadHash } from "@/lib/auth/step-up";
import { encryptField } from "@/lib/crypto";
import { env } from "@/lib/env";
import { BankError, assert } from "@/lib/errors";
import { postingOutcomes, type PostingOutcome } from "@/lib/ledger/database-functions";
import { withPostingRetries } from "@/lib/ledger/posting-retries";
import { countTransfer } from "@/lib/metrics/registry";
import { formatMinor } from "@/lib/money";
import { bankCurrency } from "@/lib/accounts/bank-currency";
import type { TransferRequest } from "@/lib/validation/transfer";

/**
 * The customer's side of posting a transfer: one call to `ledger_post_transfer` (lib/ledger/database-functions.ts),
 * which holds every rule, in one round trip and one transaction. This module only prepares the call (request
 * hash, the hash a second-factor confirmation is bound to, the encrypted memo) and turns the function's
 * outcome into a result or a BankError with a message the customer can act on.
 */

/** A customer acting through a session; the session is what a second-factor confirmation belongs to. */
export type TransferringCustomer = CustomerActor & { sessionId: string | null };

export interface PostedTransfer {
  transferId: string;
  status: "posted" | "held" | "rejected" | "reversed";
  /** True when this answer is the original result of an earlier request with the same idempotency key. */
  replayed: boolean;
}

/** Where a memo's ciphertext is bound: its own transfer row. */
export function transferMemoField(transferId: string) {
  return { table: "transfers", column: "memo", rowId: transferId };
}

function destinationId(request: TransferRequest): string {
  return request.to.kind === "own_account" ? request.to.accountId : request.to.payeeId;
}

/**
 * SHA-256 over the canonical request (everything but the key itself): a key replayed with any other source,
 * destination, amount or memo is refused instead of answering with a transfer the client did not ask for.
 */
export function transferRequestHash(request: TransferRequest): string {
  const canonical = JSON.stringify([
    "harbour-bank:transfer-request:v1",
    request.fromAccountId,
    request.to.kind,
    destinationId(request),
    request.amountMinor.toString(),
    request.memo,
  ]);
  return crypto.createHash("sha256").update(canonical, "utf8").digest("hex");
}

/**
 * The hash a second-factor confirmation of this transfer is bound to (PSD2 dynamic linking): amount, source,
 * destination and idempotency key. Changing any of them after confirming voids the confirmation.
 */
export function transferConfirmationPayloadHash(request: TransferRequest): string {
  return stepUpPayloadHash({
    action: "transfer",
    fromAccountId: request.fromAccountId,
    destinationKind: request.to.kind,
    destinationId: destinationId(request),
    amountMinor: request.amountMinor,
    idempotencyKey: request.idempotencyKey,
  });
}

function refusal(outcome: PostingOutcome, request: TransferRequest): BankError {
  const limits = env().transferLimits;
  switch (outcome) {
    case "not_found":
      return new BankError("not_found", { internalMessage: "transfer: an account or payee is not the customer's" });
    case "account_unavailable":
      return new BankError("account_unavailable");
    case "currency_mismatch":
      return new BankError("invalid_input", {
        fieldErrors: { to: ["Money can only move between accounts in the same currency."] },
      });
    case "over_transfer_maximum":
      return new BankError("limit_exceeded", {
        userMessage: `A single payment can be at most ${formatMinor(limits.maximumMinor, bankCurrency)}.`,
        fieldErrors: { amount: [`A single payment can be at most ${formatMinor(limits.maximumMinor, bankCurrency)}.`] },
      });
    case "over_daily_limit":
      return new BankError("limit_exceeded", {
        userMessage: `This payment would take you over your daily limit of ${formatMinor(limits.dailyOutgoingMinor, bankCurrency)}.`,
        fieldErrors: {
          amount: [`This payment would take you over your daily limit of ${formatMinor(limits.dailyOutgoingMinor, bankCurrency)}.`],
        },
      });
    case "insufficient_funds":
      return new BankError("insufficient_funds", {
        fieldErrors: { amount: ["There is not enough money available in that account."] },
      });
    case "confirmation_required":
      return new BankError("step_up_required", {
        userMessage: "Confirm this payment with a code from your authenticator app.",
        internalMessage: "transfer needs a confirmation bound to it",
        details: { confirmationPayloadHash: transferConfirmationPayloadHash(request) },
      });
    case "idempotency_conflict":
      return new BankError("idempotency_conflict");
    case "posted":
    case "held":
    case "replayed":
      throw new BankError("internal", { internalMessage: `transfer outcome ${outcome} is not a refusal` });
  }
}

function isPostingOutcome(value: unknown): value is PostingOutcome {
  return typeof value === "string" && (postingOutcomes as readonly string[]).includes(value);
}

const transferStatuses = ["posted", "held", "rejected", "reversed"] as const;
function isTransferStatus(value: unknown): value is PostedTransfer["status"] {
  return typeof value === "string" && (transferStatuses as readonly string[]).includes(value);
}

/**
 * The one call that posts a transfer (lib/ledger/database-functions.ts holds the rules). A constant text with
 * placeholders, sent as a prepared statement: every value is bound, none is ever spliced into the SQL.
 */
const postTransferStatement = `select outcome, transfer_id, transfer_status from ledger_post_transfer(
  $1::uuid, $2::uuid, $3::text, $4::text, $5::uuid, $6::uuid, $7::uuid, $8::bigint, $9::text, $10::uuid, $11::text,
  $12::timestamptz, $13::bigint, $14::bigint, $15::bigint, $16::bigint, $17::integer, $18::integer, $19::text, $20::text)`;

/**
 * Posts (or holds for review) a customer's transfer from one of their accounts to another of their accounts
 * or to one of their payees. Replaying an idempotency key answers with the original transfer. Refusals throw
 * BankError: not_found (not their account or payee), account_unavailable, limit_exceeded, insufficient_funds,
 * step_up_required (with the payload hash to confirm), idempotency_conflict, invalid_input.
 */
export async function postCustomerTransfer(actor: TransferringCustomer, request: TransferRequest): Promise<PostedTransfer> {
  // Types are not validation: the check is repeated where the data is.
  if (actor.kind !== "customer" || actor.role !== "customer") throw new BankError("not_found");
  assert(request.amountMinor > 0n, "transfer amount must be positive");

  const configuration = env();
  const limits = configuration.transferLimits;
  const transferId = crypto.randomUUID();
  // The memo is bound to the transfer id this request proposes; a replay discards both together.
  const memoCiphertext =
    request.memo === "" ? null : await encryptField(request.memo, transferMemoField(transferId), "memo");
  const requestHash = transferRequestHash(request);
  const confirmationPayloadHash = transferConfirmationPayloadHash(request);
  const ownCreditAccountId = request.to.kind === "own_account" ? request.to.accountId : null;
  const payeeId = request.to.kind === "payee" ? request.to.payeeId : null;

  const rows = await withPostingRetries(() =>
    databaseHandle().queryPrepared<{ outcome: unknown; transfer_id: unknown; transfer_status: unknown }>(postTransferStatement, [
      transferId,
      actor.userId,
      request.idempotencyKey,
      requestHash,
      request.fromAccountId,
      ownCreditAccountId,
      payeeId,
      request.amountMinor.toString(),
      memoCiphertext,
      actor.sessionId,
      confirmationPayloadHash,
      new Date().toISOString(),
      limits.confirmationAboveMinor.toString(),
      limits.reviewAboveMinor.toString(),
      limits.maximumMinor.toString(),
      limits.dailyOutgoingMinor.toString(),
      limits.newPayeeConfirmationSeconds,
      configuration.stepUpWindowSeconds,
      actor.ipAddress,
      actor.userAgent,
    ]),
  ).catch((error: unknown) => {
    // A database error (or retries used up): the transfer was neither posted nor refused by a rule.
    countTransfer("failed");
    throw error;
  });
  const [row] = rows;
  assert(row !== undefined && isPostingOutcome(row.outcome), "ledger_post_transfer returned no outcome");
  const outcome = row.outcome;
  if (outcome === "posted" || outcome === "held" || outcome === "replayed") {
    assert(typeof row.transfer_id === "string" && isTransferStatus(row.transfer_status), "posting result is incomplete");
    countTransfer(outcome);
    return { transferId: row.transfer_id, status: row.transfer_status, replayed: outcome === "replayed" };
  }
  // The ledger's own outcome names (a closed list) are the reasons; confirmation_required is counted as a
  // refusal too, since that attempt moved no money (the confirmed retry is counted again when it posts).
  countTransfer("refused", outcome);
  throw refusal(outcome, request);
}
