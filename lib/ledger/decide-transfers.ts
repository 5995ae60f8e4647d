import "server-only";
import crypto from "node:crypto";
import { sql } from "drizzle-orm";
import { databaseHandle, executeRows, type StatementParameter, type Transaction } from "@/db/client";
import type { StaffActor, SystemActor } from "@/lib/auth/actor";
import { BankError, assert } from "@/lib/errors";
import { decisionOutcomes, type DecisionOutcome } from "@/lib/ledger/database-functions";
import { withPostingRetries } from "@/lib/ledger/posting-retries";
import { cleanText } from "@/lib/validation/fields";

/**
 * The money side of deciding a held transfer and of reversing a posted one, each one call to a ledger SQL
 * function (lib/ledger/database-functions.ts). Who may decide — roles, four eyes, the second approver above
 * the large-amount threshold — is the back office's rule and is checked by its data layer before it calls
 * these; these functions only refuse non-staff actors outright, so that no customer path can reach them.
 */

export interface DecisionResult {
  transferId: string;
  status: "posted" | "rejected";
}

/** A staff reason or a system purpose: short, plain, never customer PII. */
function cleanReason(reason: string): string {
  const cleaned = cleanText(reason);
  if (cleaned.length === 0 || cleaned.length > 500) {
    throw new BankError("invalid_input", { fieldErrors: { reason: ["Give a reason of at most 500 characters."] } });
  }
  return cleaned;
}

function isDecisionOutcome(value: unknown): value is DecisionOutcome {
  return typeof value === "string" && (decisionOutcomes as readonly string[]).includes(value);
}

function refusal(outcome: DecisionOutcome): BankError {
  switch (outcome) {
    case "not_found":
      return new BankError("not_found");
    case "not_held":
      return new BankError("conflict", { userMessage: "That transfer is no longer waiting for review." });
    case "not_reversible":
      return new BankError("conflict", { userMessage: "Only a posted transfer that is not a reversal can be reversed." });
    case "account_unavailable":
      return new BankError("account_unavailable", {
        userMessage: "One of the accounts is frozen or closed, so the money cannot move now.",
      });
    case "insufficient_funds":
      return new BankError("insufficient_funds", {
        userMessage: "The account that received the money no longer holds enough to reverse it.",
      });
    case "approved":
    case "rejected":
    case "reversed":
      throw new BankError("internal", { internalMessage: `decision outcome ${outcome} is not a refusal` });
  }
}

type DecidingActor = StaffActor | SystemActor;

// The ledger's decision calls: constant texts with placeholders, sent as prepared statements (every value bound).
const decideStatement = `select outcome, transfer_id, transfer_status from ledger_decide_held_transfer(
  $1::uuid, $2::boolean, $3::uuid, $4::text, $5::text, $6::timestamptz, $7::text, $8::text)`;
const reverseStatement = `select outcome, transfer_id from ledger_reverse_transfer(
  $1::uuid, $2::uuid, $3::uuid, $4::text, $5::text, $6::timestamptz, $7::text, $8::text)`;

function assertMayDecide(actor: DecidingActor): void {
  if (actor.kind === "system") return;
  // Auditors read; only support and admin staff act on money (the back office narrows this further).
  if (actor.kind !== "staff" || (actor.role !== "admin" && actor.role !== "support")) throw new BankError("not_found");
}

/**
 * The parameters every decision call ends with, in the functions' order: who decides (id and role), why, when,
 * and from where (a system actor has no address or user agent).
 */
function deciderParameters(actor: DecidingActor, reason: string): StatementParameter[] {
  const fromStaff = actor.kind === "staff";
  return [
    actor.userId,
    actor.role,
    cleanReason(reason),
    new Date().toISOString(),
    fromStaff ? actor.ipAddress : null,
    fromStaff ? actor.userAgent : null,
  ];
}

/**
 * Where a decision runs. By default it is one prepared call in its own transaction, retried as a whole when the
 * database aborts it (posting-retries.ts). `within` runs it inside the caller's open transaction instead (the
 * back office writes its review row and the decision together): there it is one statement of that transaction,
 * and it is NOT retried here, because after a serialization failure or a deadlock the whole transaction is
 * aborted and only the caller can run it again from the start (the caller wraps its transaction in
 * `withPostingRetries`).
 */
export interface DecisionOptions {
  within?: Transaction;
}

type DecisionRow = { outcome: unknown; transfer_id: unknown; transfer_status: unknown };

async function decide(
  actor: DecidingActor,
  transferId: string,
  approve: boolean,
  reason: string,
  options: DecisionOptions,
): Promise<DecisionResult> {
  assertMayDecide(actor);
  const parameters: StatementParameter[] = [transferId, approve, ...deciderParameters(actor, reason)];
  const { within } = options;
  const [row] = within
    ? await executeRows<DecisionRow>(
        within,
        sql`select outcome, transfer_id, transfer_status from ledger_decide_held_transfer(
          ${parameters[0]}::uuid, ${parameters[1]}::boolean, ${parameters[2]}::uuid, ${parameters[3]}::text,
          ${parameters[4]}::text, ${parameters[5]}::timestamptz, ${parameters[6]}::text, ${parameters[7]}::text)`,
      )
    : await withPostingRetries(() => databaseHandle().queryPrepared<DecisionRow>(decideStatement, parameters));
  assert(row !== undefined && isDecisionOutcome(row.outcome), "ledger_decide_held_transfer returned no outcome");
  if (row.outcome === "approved" || row.outcome === "rejected") {
    return { transferId, status: row.outcome === "approved" ? "posted" : "rejected" };
  }
  throw refusal(row.outcome);
}

/** Posts a held transfer: the amount leaves the posted balance and reaches the payee. */
export function approveHeldTransfer(
  actor: DecidingActor,
  transferId: string,
  note = "approved after review",
  options: DecisionOptions = {},
): Promise<DecisionResult> {
  return decide(actor, transferId, true, note, options);
}

/** Releases a held transfer: the amount returns to the available balance and to the day's limit. */
export function rejectHeldTransfer(
  actor: DecidingActor,
  transferId: string,
  reason: string,
  options: DecisionOptions = {},
): Promise<DecisionResult> {
  return decide(actor, transferId, false, reason, options);
}

/** Reverses a posted transfer with a new transfer in the opposite direction; returns the reversal's id. */
export async function reverseTransfer(actor: DecidingActor, transferId: string, reason: string): Promise<{ reversalId: string }> {
  assertMayDecide(actor);
  const reversalId = crypto.randomUUID();
  const [row] = await withPostingRetries(() =>
    databaseHandle().queryPrepared<{ outcome: unknown; transfer_id: unknown }>(reverseStatement, [
      transferId,
      reversalId,
      ...deciderParameters(actor, reason),
    ]),
  );
  assert(row !== undefined && isDecisionOutcome(row.outcome), "ledger_reverse_transfer returned no outcome");
  if (row.outcome === "reversed") return { reversalId };
  throw refusal(row.outcome);
}
