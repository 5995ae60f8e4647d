import "server-only";
import crypto from "node:crypto";
import { and, eq, isNull, ne } from "drizzle-orm";
import { type Queryable, database } from "@/db/client";
import { accounts, payees, users } from "@/db/schema";
import type { CustomerActor, SessionActor } from "@/lib/auth/actor";
import { recordAuditEvent } from "@/lib/audit/record-audit-event";
import { requireStepUpForPayload } from "@/lib/auth/step-up";
import { stepUpOperationHash } from "@/lib/auth/step-up-operations";
import { decryptField, encryptField } from "@/lib/crypto";
import { isUniqueViolation } from "@/lib/database-errors";
import { BankError } from "@/lib/errors";
import { payeeNameField } from "@/lib/payees/list-my-payees";
import { compareNames, type PayeeMatchResult } from "@/lib/payees/name-match";
import { enforcePerUserLimit } from "@/lib/security/rate-limit/per-user";
import { type PayeeDetails, payeeDetailsSchema } from "@/lib/validation/payee";

/**
 * What confirmation of payee tells the customer. The account holder's name only for a close match (so the
 * customer can correct a typo); never the account's id, and the same `no_match` for an account number that
 * does not exist, is the customer's own, a bank account or closed, so the lookup reveals no more than CoP must.
 */
export type PayeeLookupResult =
  | { result: "exact_match" }
  | { result: "close_match"; accountHolderName: string }
  | { result: "no_match" };

export interface SavedPayee {
  id: string;
  name: string;
  accountNumber: string;
  matchResult: PayeeMatchResult;
}

const payeeDetailsFieldErrorMessage = "Check the account number and the name.";

function assertCustomer(actor: CustomerActor): void {
  // Types are not validation: only a customer has payees.
  if (actor.kind !== "customer") throw new BankError("not_found");
}

function parseDetails(input: unknown): PayeeDetails {
  const parsed = payeeDetailsSchema.safeParse(input);
  if (!parsed.success) {
    const fieldErrors: Record<string, string[]> = {};
    for (const issue of parsed.error.issues) {
      const field = String(issue.path[0] ?? "form");
      (fieldErrors[field] ??= []).push(issue.message || payeeDetailsFieldErrorMessage);
    }
    throw new BankError("invalid_input", { fieldErrors });
  }
  return parsed.data;
}

interface Candidate {
  accountId: string;
  holderName: string;
}

/**
 * The customer account this number names, with its holder's legal name, if it may be a payee of `actor`:
 * an active or frozen customer account of someone else. System accounts, the caller's own accounts and closed
 * accounts are never candidates.
 */
async function findCandidate(queryable: Queryable, actor: CustomerActor, accountNumber: string): Promise<Candidate | null> {
  const [row] = await queryable
    .select({ accountId: accounts.id, holderId: users.id, legalNameCiphertext: users.legalNameCiphertext })
    .from(accounts)
    .innerJoin(users, eq(users.id, accounts.ownerId))
    .where(
      and(
        eq(accounts.accountNumber, accountNumber),
        eq(accounts.ownerRole, "customer"),
        eq(users.role, "customer"),
        ne(accounts.kind, "system"),
        ne(accounts.status, "closed"),
        ne(accounts.ownerId, actor.userId),
      ),
    )
    .limit(1);
  if (!row) return null;
  const holderName = await decryptField(row.legalNameCiphertext, { table: "users", column: "legal_name", rowId: row.holderId });
  return { accountId: row.accountId, holderName };
}

async function consumeLookup(actor: CustomerActor): Promise<void> {
  await enforcePerUserLimit("payeeLookups", actor.userId, "You have checked too many payee names today. Try again tomorrow.");
}

/**
 * Confirmation of payee: is `name` the name on the account `accountNumber`? Counted against the customer's
 * daily lookups (fails closed), and every lookup is an audit event (the result only, no names or numbers).
 */
export async function lookUpPayee(actor: CustomerActor, input: unknown): Promise<PayeeLookupResult> {
  assertCustomer(actor);
  const details = parseDetails(input);
  await consumeLookup(actor);
  const candidate = await findCandidate(database(), actor, details.accountNumber);
  const result: PayeeMatchResult = candidate ? compareNames(details.name, candidate.holderName) : "no_match";
  await recordAuditEvent(database(), {
    actorId: actor.userId,
    actorRole: actor.role,
    action: "payee.confirmation_lookup",
    ...(candidate ? { targetType: "account", targetId: candidate.accountId } : {}),
    ipAddress: actor.ipAddress,
    userAgent: actor.userAgent,
    details: { result },
  });
  if (result === "close_match" && candidate) return { result, accountHolderName: candidate.holderName };
  return result === "exact_match" ? { result } : { result: "no_match" };
}

/**
 * Saves a payee after a step-up bound to exactly this account number and name (operation `save_payee`). The
 * match is computed again here, never taken from the browser. An account that cannot be a payee at all
 * (unknown, own, system, closed) is refused with a field error on the account number, which reveals no more
 * than the lookup's `no_match` did: saving needs a second factor each time.
 */
export async function savePayee(actor: SessionActor & CustomerActor, input: unknown): Promise<SavedPayee> {
  assertCustomer(actor);
  const details = parseDetails(input);
  await requireStepUpForPayload(actor, stepUpOperationHash("save_payee", actor, input));
  const id = crypto.randomUUID();
  const nameCiphertext = await encryptField(details.name, payeeNameField(id));
  try {
    return await database().transaction(async (tx) => {
      const candidate = await findCandidate(tx, actor, details.accountNumber);
      if (!candidate) {
        throw new BankError("invalid_input", {
          fieldErrors: { accountNumber: ["We cannot add a payee with this account number."] },
        });
      }
      const matchResult = compareNames(details.name, candidate.holderName);
      await tx.insert(payees).values({ id, ownerId: actor.userId, accountId: candidate.accountId, nameCiphertext, matchResult });
      await recordAuditEvent(tx, {
        actorId: actor.userId,
        actorRole: actor.role,
        action: "payee.added",
        targetType: "payee",
        targetId: id,
        ipAddress: actor.ipAddress,
        userAgent: actor.userAgent,
        details: { matchResult },
      });
      return { id, name: details.name, accountNumber: details.accountNumber, matchResult };
    });
  } catch (error) {
    if (isUniqueViolation(error)) {
      throw new BankError("invalid_input", {
        fieldErrors: { accountNumber: ["You already have a payee with this account number."] },
      });
    }
    throw error;
  }
}

/** Removes one of the customer's live payees (kept for history); anyone else's payee is not found. */
export async function removePayee(actor: CustomerActor, payeeId: string): Promise<void> {
  assertCustomer(actor);
  if (!/^[0-9a-f-]{36}$/i.test(payeeId)) throw new BankError("not_found");
  await database().transaction(async (tx) => {
    const removed = await tx
      .update(payees)
      .set({ removedAt: new Date() })
      .where(and(eq(payees.id, payeeId), eq(payees.ownerId, actor.userId), isNull(payees.removedAt)))
      .returning({ id: payees.id });
    if (removed.length !== 1) throw new BankError("not_found");
    await recordAuditEvent(tx, {
      actorId: actor.userId,
      actorRole: actor.role,
      action: "payee.removed",
      targetType: "payee",
      targetId: payeeId,
      ipAddress: actor.ipAddress,
      userAgent: actor.userAgent,
    });
  });
}
