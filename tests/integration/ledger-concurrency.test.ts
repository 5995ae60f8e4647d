import crypto from "node:crypto";
import { eq } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { database, databaseHandle } from "@/db/client";
import { applyMigrations } from "@/db/migrations";
import { accounts, customerLimits, transfers } from "@/db/schema";
import { env } from "@/lib/env";
import { BankError } from "@/lib/errors";
import { postCustomerTransfer } from "@/lib/ledger/post-transfer";
import { parseTransferRequest, type TransferRequest } from "@/lib/validation/transfer";
import { checkLedgerInvariants, createTestCustomer, openFundedAccount, savePayee, soundLedger } from "../helpers/ledger-fixtures";
import { useIntegrationEnvironment } from "../helpers/integration-environment";

/**
 * Races against the posting function. PGlite is a single connection that runs one statement at a time, so
 * nothing can race there: these tests run on PostgreSQL only, where the pool gives real parallel sessions.
 */
const environment = useIntegrationEnvironment();
const onPostgres = process.env.INTEGRATION_DATABASE === "postgres";

function ownTransfer(fromAccountId: string, toAccountId: string, amount: string, idempotencyKey = crypto.randomUUID()): TransferRequest {
  return parseTransferRequest({ idempotencyKey, memo: "", fromAccountId, to: { kind: "own_account", accountId: toAccountId }, amount });
}

/** Runs every posting at once and sorts the outcomes: transfer ids, refusal codes, and anything else. */
async function raceAll(postings: Array<() => Promise<{ transferId: string }>>) {
  const settled = await Promise.allSettled(postings.map((posting) => posting()));
  const transferIds: string[] = [];
  const refusals: string[] = [];
  const unexpected: unknown[] = [];
  for (const result of settled) {
    if (result.status === "fulfilled") transferIds.push(result.value.transferId);
    else if (result.reason instanceof BankError) refusals.push(result.reason.code);
    else unexpected.push(result.reason);
  }
  return { transferIds, refusals, unexpected };
}

async function balanceOf(accountId: string): Promise<bigint> {
  const [row] = await database().select({ balance: accounts.balanceMinor }).from(accounts).where(eq(accounts.id, accountId));
  if (!row) throw new Error("missing account");
  return row.balance;
}

describe.runIf(onPostgres)("the ledger under concurrent postings (PostgreSQL)", () => {
  beforeAll(async () => {
    expect(environment().kind).toBe("postgres");
    await applyMigrations(databaseHandle());
  });

  it("50 parallel transfers of 100.00 from 1,000.00: exactly 10 post, 40 are refused for funds, nothing else", async () => {
    const customer = await createTestCustomer("racer");
    const source = await openFundedAccount(customer, 100_000n);
    const destination = await openFundedAccount(customer, 0n, "savings");
    const outcome = await raceAll(Array.from({ length: 50 }, () => () => postCustomerTransfer(customer, ownTransfer(source, destination, "100.00"))));
    expect(outcome.unexpected).toEqual([]);
    expect(outcome.transferIds).toHaveLength(10);
    expect(outcome.refusals).toEqual(Array.from({ length: 40 }, () => "insufficient_funds"));
    expect(await balanceOf(source)).toBe(0n);
    expect(await balanceOf(destination)).toBe(100_000n);
    expect(await checkLedgerInvariants(env().transferLimits.dailyOutgoingMinor)).toEqual(soundLedger);
  });

  it("20 parallel requests with one idempotency key make one transfer, and every caller gets its id", async () => {
    const customer = await createTestCustomer("replayer");
    const source = await openFundedAccount(customer, 100_000n);
    const destination = await openFundedAccount(customer, 0n, "savings");
    const request = ownTransfer(source, destination, "7.00");
    const outcome = await raceAll(Array.from({ length: 20 }, () => () => postCustomerTransfer(customer, request)));
    expect(outcome.unexpected).toEqual([]);
    expect(outcome.refusals).toEqual([]);
    expect(new Set(outcome.transferIds).size).toBe(1);
    expect(outcome.transferIds).toHaveLength(20);
    const written = await database().select({ id: transfers.id }).from(transfers).where(eq(transfers.initiatedBy, customer.userId));
    expect(written).toHaveLength(1);
    expect(await balanceOf(source)).toBe(100_000n - 700n);
  });

  it("40 transfers each way between the same two accounts all post, and no deadlock reaches a caller", async () => {
    const customer = await createTestCustomer("crossing");
    const first = await openFundedAccount(customer, 100_000n);
    const second = await openFundedAccount(customer, 100_000n, "savings");
    const postings = Array.from({ length: 80 }, (_, index) =>
      index % 2 === 0
        ? () => postCustomerTransfer(customer, ownTransfer(first, second, "3.00"))
        : () => postCustomerTransfer(customer, ownTransfer(second, first, "5.00")),
    );
    const outcome = await raceAll(postings);
    expect(outcome.unexpected).toEqual([]);
    expect(outcome.refusals).toEqual([]);
    expect(outcome.transferIds).toHaveLength(80);
    expect(await balanceOf(first)).toBe(100_000n - 40n * 300n + 40n * 500n);
    expect(await balanceOf(second)).toBe(100_000n + 40n * 300n - 40n * 500n);
    expect(await checkLedgerInvariants(env().transferLimits.dailyOutgoingMinor)).toEqual(soundLedger);
  });

  it("parallel sends from two of one customer's accounts to a payee never together pass the daily limit", async () => {
    const limits = env().transferLimits;
    const sender = await createTestCustomer("limited");
    const receiver = await createTestCustomer("receiver");
    const receiverAccount = await openFundedAccount(receiver, 0n);
    // Each source alone could send the whole daily limit; together they hold twice that.
    const sources = [await openFundedAccount(sender, limits.dailyOutgoingMinor), await openFundedAccount(sender, limits.dailyOutgoingMinor, "savings")];
    const payee = await savePayee(sender, receiverAccount);
    // Amounts just under the confirmation threshold, so that no second factor is involved.
    const amountMinor = limits.confirmationAboveMinor;
    const fitting = Number(limits.dailyOutgoingMinor / amountMinor);
    const attempts = fitting * 2 + 4;
    const amount = `${(amountMinor / 100n).toString()}.${(amountMinor % 100n).toString().padStart(2, "0")}`;
    const outcome = await raceAll(
      Array.from({ length: attempts }, (_, index) => () =>
        postCustomerTransfer(
          sender,
          parseTransferRequest({ idempotencyKey: crypto.randomUUID(), memo: "", fromAccountId: sources[index % 2], to: { kind: "payee", payeeId: payee }, amount }),
        ),
      ),
    );
    expect(outcome.unexpected).toEqual([]);
    expect(outcome.transferIds).toHaveLength(fitting);
    expect(outcome.refusals).toEqual(Array.from({ length: attempts - fitting }, () => "limit_exceeded"));
    expect(await balanceOf(receiverAccount)).toBe(BigInt(fitting) * amountMinor);
    const [counter] = await database().select().from(customerLimits).where(eq(customerLimits.userId, sender.userId));
    expect(counter?.sentOnDayMinor).toBe(BigInt(fitting) * amountMinor);
    expect(await checkLedgerInvariants(limits.dailyOutgoingMinor)).toEqual(soundLedger);
  });
});

describe.skipIf(onPostgres)("the ledger under concurrent postings (PGlite)", () => {
  it("is exercised on PostgreSQL only: PGlite runs one statement at a time", () => {
    expect(process.env.INTEGRATION_DATABASE).toBe("pglite");
  });
});
