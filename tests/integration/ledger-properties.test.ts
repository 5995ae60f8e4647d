import crypto from "node:crypto";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { database, databaseHandle } from "@/db/client";
import { applyMigrations } from "@/db/migrations";
import { stepUpConfirmations, users } from "@/db/schema";
import type { StaffActor } from "@/lib/auth/actor";
import { createSession } from "@/lib/auth/sessions";
import { BankError } from "@/lib/errors";
import { env } from "@/lib/env";
import { approveHeldTransfer, rejectHeldTransfer, reverseTransfer } from "@/lib/ledger/decide-transfers";
import { postCustomerTransfer, type TransferringCustomer } from "@/lib/ledger/post-transfer";
import { formatMinorPlain } from "../helpers/minor-text";
import { checkLedgerInvariants, createTestCustomer, openFundedAccount, savePayee, soundLedger } from "../helpers/ledger-fixtures";
import { useIntegrationEnvironment } from "../helpers/integration-environment";
import { parseTransferRequest, type TransferRequest } from "@/lib/validation/transfer";

/**
 * Random sequences of customer transfers (own accounts and payees, amounts around every threshold),
 * second-factor confirmations, holds, approvals, rejections and reversals, after each of which every ledger
 * invariant must hold. The thresholds are lowered (before the first env() call of this worker) so that the
 * accounts' balances make every rule reachable within a short sequence.
 */
const thresholds = { confirmation: 5_000n, review: 10_000n, maximum: 30_000n, daily: 60_000n };
process.env.TRANSFER_CONFIRMATION_ABOVE_MINOR = thresholds.confirmation.toString();
process.env.TRANSFER_REVIEW_ABOVE_MINOR = thresholds.review.toString();
process.env.TRANSFER_MAXIMUM_MINOR = thresholds.maximum.toString();
process.env.DAILY_OUTGOING_LIMIT_MINOR = thresholds.daily.toString();

useIntegrationEnvironment();

/** Refusals a random sequence may legitimately meet; anything else is a failure. */
const expectedRefusals = new Set(["insufficient_funds", "limit_exceeded", "conflict"]);

const amountMinor = fc.oneof(
  fc.constantFrom(1n, 100n),
  ...[thresholds.confirmation, thresholds.review, thresholds.maximum].map((threshold) => fc.bigInt({ min: threshold - 1n, max: threshold + 1n })),
  fc.bigInt({ min: 1n, max: 45_000n }),
);

const operation = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant("transfer" as const), customer: fc.nat(1), from: fc.nat(1), toPayee: fc.boolean(), amountMinor, confirm: fc.constantFrom(true, true, true, false) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("reverse" as const), pick: fc.nat(1000) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant("decide" as const), pick: fc.nat(1000), approve: fc.boolean() }) },
);

type Operation = typeof operation extends fc.Arbitrary<infer Value> ? Value : never;

/**
 * One sequence, run before the random ones, that reaches every outcome the coverage check below asks for: the
 * random sequences reach most of them most of the time, but "most of the time" made the check fail now and then
 * (25 runs without a single rejection). With this example the check proves the property could see each outcome,
 * and the random runs still explore everything else.
 */
const everyOutcome: Operation[] = [
  { kind: "transfer", customer: 0, from: 0, toPayee: true, amountMinor: thresholds.review + 1n, confirm: true },
  { kind: "decide", pick: 0, approve: false },
  { kind: "transfer", customer: 0, from: 0, toPayee: true, amountMinor: thresholds.review + 1n, confirm: true },
  { kind: "decide", pick: 1, approve: true },
  { kind: "transfer", customer: 0, from: 0, toPayee: false, amountMinor: 100n, confirm: false },
  { kind: "reverse", pick: 0 },
  { kind: "transfer", customer: 0, from: 1, toPayee: false, amountMinor: 30_000n, confirm: true },
  { kind: "transfer", customer: 1, from: 0, toPayee: true, amountMinor: thresholds.maximum + 1n, confirm: true },
];

interface Party {
  customer: TransferringCustomer;
  accounts: [string, string];
  payeeId: string;
}

let staff: StaffActor;

/** What the random sequences actually reached, over all runs: a property that never holds or reverses proves little. */
const reached = { posted: 0, held: 0, confirmed: 0, approved: 0, rejected: 0, reversed: 0, refusedForFunds: 0, refusedForLimits: 0 };

async function createStaff(): Promise<StaffActor> {
  const id = crypto.randomUUID();
  await database().insert(users).values({
    id,
    role: "admin",
    emailCiphertext: "unused",
    emailBlindIndex: `staff-${id}`,
    legalNameCiphertext: "unused",
    passwordHash: "no-password",
  });
  return { kind: "staff", role: "admin", userId: id, ipAddress: null, userAgent: null };
}

async function createParties(): Promise<[Party, Party]> {
  const made: Array<Omit<Party, "payeeId">> = [];
  for (const label of ["first", "second"]) {
    const customer = await createTestCustomer(label);
    const sessionId = await createSession(database(), { userId: customer.userId, ipAddress: null, userAgent: null, showLockNotice: false, secondFactorAt: new Date() });
    const withSession = { ...customer, sessionId };
    made.push({ customer: withSession, accounts: [await openFundedAccount(withSession, 40_000n), await openFundedAccount(withSession, 20_000n, "savings")] });
  }
  const [first, second] = made;
  if (!first || !second) throw new Error("parties");
  return [
    { ...first, payeeId: await savePayee(first.customer, second.accounts[0]) },
    { ...second, payeeId: await savePayee(second.customer, first.accounts[1]) },
  ];
}

async function confirm(customer: TransferringCustomer, payloadHash: string): Promise<void> {
  if (customer.sessionId === null) throw new Error("a confirming customer needs a session");
  await database().insert(stepUpConfirmations).values({ id: crypto.randomUUID(), sessionId: customer.sessionId, payloadHash, confirmedAt: new Date() });
}

/** True when the work was done, false when it was refused for an expected reason; anything else throws. */
async function refusedOrDone(work: Promise<unknown>): Promise<boolean> {
  try {
    await work;
    return true;
  } catch (error) {
    if (!(error instanceof BankError) || !expectedRefusals.has(error.code)) throw error;
    return false;
  }
}

describe("random sequences of ledger operations", () => {
  beforeAll(async () => {
    await applyMigrations(databaseHandle());
    staff = await createStaff();
    expect(env().transferLimits.reviewAboveMinor).toBe(thresholds.review);
  });

  it("keep every invariant", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(operation, { minLength: 5, maxLength: 25 }), async (operations) => {
        const parties = await createParties();
        const posted: string[] = [];
        const held: string[] = [];
        for (const step of operations) {
          if (step.kind === "transfer") {
            const party = parties[step.customer] ?? parties[0];
            const fromAccountId = party.accounts[step.from] ?? party.accounts[0];
            const toOwn = party.accounts[step.from === 0 ? 1 : 0];
            const request: TransferRequest = parseTransferRequest({
              idempotencyKey: crypto.randomUUID(),
              memo: "",
              fromAccountId,
              to: step.toPayee ? { kind: "payee", payeeId: party.payeeId } : { kind: "own_account", accountId: toOwn },
              amount: formatMinorPlain(step.amountMinor),
            });
            const attempt = async () => {
              try {
                return await postCustomerTransfer(party.customer, request);
              } catch (error) {
                const payloadHash = error instanceof BankError ? error.details?.confirmationPayloadHash : undefined;
                if (!step.confirm || typeof payloadHash !== "string") throw error;
                // A bound confirmation for this very request, then the same request again.
                await confirm(party.customer, payloadHash);
                reached.confirmed += 1;
                return await postCustomerTransfer(party.customer, request);
              }
            };
            try {
              const result = await attempt();
              (result.status === "held" ? held : posted).push(result.transferId);
              reached[result.status === "held" ? "held" : "posted"] += 1;
              expect(result.status === "held").toBe(step.toPayee && step.amountMinor > thresholds.review);
            } catch (error) {
              const code = error instanceof BankError ? error.code : "unexpected";
              if (code === "step_up_required") {
                expect(step.confirm && step.amountMinor > thresholds.confirmation).toBe(false);
                continue;
              }
              if (code === "limit_exceeded") {
                reached.refusedForLimits += 1;
                continue;
              }
              if (code === "insufficient_funds") reached.refusedForFunds += 1;
              if (!expectedRefusals.has(code)) throw error;
            }
          } else if (step.kind === "reverse" && posted.length > 0) {
            const transferId = posted[step.pick % posted.length];
            if (transferId && (await refusedOrDone(reverseTransfer(staff, transferId, "property test correction")))) reached.reversed += 1;
          } else if (step.kind === "decide" && held.length > 0) {
            const transferId = held[step.pick % held.length];
            if (!transferId) continue;
            const decision = step.approve ? approveHeldTransfer(staff, transferId) : rejectHeldTransfer(staff, transferId, "property test rejection");
            try {
              const result = await decision;
              if (result.status === "posted") posted.push(transferId);
              reached[result.status === "posted" ? "approved" : "rejected"] += 1;
            } catch (error) {
              if (!(error instanceof BankError) || !expectedRefusals.has(error.code)) throw error;
            }
          }
        }
        expect(await checkLedgerInvariants(thresholds.daily)).toEqual(soundLedger);
      }),
      { numRuns: 25, examples: [[everyOutcome]] },
    );
    for (const [what, count] of Object.entries(reached)) expect(count, `the sequences never reached "${what}"`).toBeGreaterThan(0);
  }, 120_000);
});
