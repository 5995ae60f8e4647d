import crypto from "node:crypto";
import { and, eq, isNotNull } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { database, databaseHandle } from "@/db/client";
import { applyMigrations } from "@/db/migrations";
import { stepUpConfirmations, transfers } from "@/db/schema";
import { seedDemoData } from "@/db/seed-demo-data";
import { confirmStepUp } from "@/lib/auth/step-up";
import { stepUpOperationHash } from "@/lib/auth/step-up-operations";
import { BankError } from "@/lib/errors";
import { postCustomerTransfer } from "@/lib/ledger/post-transfer";
import { parseTransferRequest, type TransferRequestInput } from "@/lib/validation/transfer";
import { useIntegrationEnvironment } from "../helpers/integration-environment";
import { savePayee } from "../helpers/ledger-fixtures";
import {
  authenticatorCode,
  balancesOf,
  demoCustomer,
  openSession,
  type DemoCustomer,
  type SessionCustomer,
} from "../helpers/transfer-fixtures";

/**
 * The `transfer` step-up operation (lib/auth/step-up-operations.ts): a second-factor confirmation bound to one
 * transfer (PSD2 dynamic linking). The code is confirmed for the hash of the parsed request's amount, source,
 * destination and idempotency key, computed on the server; the ledger's posting function spends it.
 */

useIntegrationEnvironment();

let alice: DemoCustomer;
let bob: DemoCustomer;
let actor: SessionCustomer;
let bobPayee: string;

beforeAll(async () => {
  await applyMigrations(databaseHandle());
  const { signIns } = await seedDemoData();
  const [first, second] = signIns.filter((signIn) => signIn.role === "customer");
  if (!first || !second) throw new Error("the demo seed has no customers");
  alice = await demoCustomer(first);
  bob = await demoCustomer(second);
  actor = await openSession(alice);
  bobPayee = await savePayee(actor, bob.checkingId, { name: "Bob Brennan" });
});

async function refusalOf(promise: Promise<unknown>): Promise<BankError> {
  const outcome = await promise.then(
    () => null,
    (error: unknown) => error,
  );
  expect(outcome).toBeInstanceOf(BankError);
  return outcome as BankError;
}

async function spentConfirmations(sessionId: string): Promise<number> {
  const rows = await database()
    .select({ id: stepUpConfirmations.id })
    .from(stepUpConfirmations)
    .where(and(eq(stepUpConfirmations.sessionId, sessionId), isNotNull(stepUpConfirmations.usedAt)));
  return rows.length;
}

describe("a confirmation bound to one transfer", () => {
  it("asks for the very hash the step-up operation computes from the same input", async () => {
    const input: TransferRequestInput = {
      fromAccountId: alice.checkingId,
      to: { kind: "own_account", accountId: alice.savingsId },
      amount: "1,000.01",
      memo: "",
      idempotencyKey: crypto.randomUUID(),
    };
    const refusal = await refusalOf(postCustomerTransfer(actor, parseTransferRequest(input)));
    expect(refusal.code).toBe("step_up_required");
    expect(refusal.details?.confirmationPayloadHash).toBe(stepUpOperationHash("transfer", actor, input));
    // The amount as typed is parsed first: "1000.01" and "1,000.01" are the same transfer.
    expect(stepUpOperationHash("transfer", actor, { ...input, amount: "1000.01" })).toBe(stepUpOperationHash("transfer", actor, input));
  });

  it("refuses to compute a payload from input the transfer itself would refuse", () => {
    const bad = { fromAccountId: alice.checkingId, to: { kind: "own_account", accountId: alice.savingsId }, amount: "1.001", idempotencyKey: crypto.randomUUID() };
    expect(() => stepUpOperationHash("transfer", actor, bad)).toThrow(BankError);
    expect(() => stepUpOperationHash("transfer", actor, undefined)).toThrow(BankError);
  });

  it("does not authorise a changed amount, source, destination or key, and authorises exactly one posting", async () => {
    const confirmed: TransferRequestInput = {
      fromAccountId: alice.checkingId,
      to: { kind: "own_account", accountId: alice.savingsId },
      amount: "1500.00",
      memo: "Holiday pot",
      idempotencyKey: crypto.randomUUID(),
    };
    const checkingBefore = await balancesOf(alice.checkingId);
    const savingsBefore = await balancesOf(alice.savingsId);
    await confirmStepUp(actor, await authenticatorCode(alice, 0), stepUpOperationHash("transfer", actor, confirmed));

    const changed: TransferRequestInput[] = [
      { ...confirmed, amount: "1500.01" },
      { ...confirmed, fromAccountId: alice.savingsId, to: { kind: "own_account", accountId: alice.checkingId } },
      { ...confirmed, to: { kind: "payee", payeeId: bobPayee } },
      { ...confirmed, idempotencyKey: crypto.randomUUID() },
    ];
    for (const variant of changed) {
      const refusal = await refusalOf(postCustomerTransfer(actor, parseTransferRequest(variant)));
      expect(refusal.code).toBe("step_up_required");
    }
    // Nothing moved, and the confirmation is still unspent.
    expect(await balancesOf(alice.checkingId)).toEqual(checkingBefore);
    expect(await balancesOf(alice.savingsId)).toEqual(savingsBefore);
    expect(await spentConfirmations(actor.sessionId)).toBe(0);

    const posted = await postCustomerTransfer(actor, parseTransferRequest(confirmed));
    expect(posted).toMatchObject({ status: "posted", replayed: false });
    expect(await spentConfirmations(actor.sessionId)).toBe(1);

    // A retry of the same attempt (a double click, a lost answer) answers with the same transfer, once.
    const retried = await postCustomerTransfer(actor, parseTransferRequest(confirmed));
    expect(retried).toEqual({ transferId: posted.transferId, status: "posted", replayed: true });
    expect(await balancesOf(alice.checkingId)).toEqual({
      balanceMinor: checkingBefore.balanceMinor - 150_000n,
      availableMinor: checkingBefore.availableMinor - 150_000n,
    });
    expect(await balancesOf(alice.savingsId)).toEqual({
      balanceMinor: savingsBefore.balanceMinor + 150_000n,
      availableMinor: savingsBefore.availableMinor + 150_000n,
    });
    const rows = await database().select({ id: transfers.id }).from(transfers).where(eq(transfers.initiatedBy, alice.userId));
    expect(rows.filter((row) => row.id === posted.transferId)).toHaveLength(1);

    // The same amount between the same accounts again is a new attempt: the spent confirmation does not cover it.
    const again = await refusalOf(postCustomerTransfer(actor, parseTransferRequest({ ...confirmed, idempotencyKey: crypto.randomUUID() })));
    expect(again.code).toBe("step_up_required");
  });

  it("does not authorise the same transfer from another session of the same customer", async () => {
    const otherSession = await openSession(alice);
    const input: TransferRequestInput = {
      fromAccountId: alice.savingsId,
      to: { kind: "own_account", accountId: alice.checkingId },
      amount: "1200.00",
      memo: "",
      idempotencyKey: crypto.randomUUID(),
    };
    await confirmStepUp(otherSession, await authenticatorCode(alice, 1), stepUpOperationHash("transfer", otherSession, input));
    const before = await balancesOf(alice.savingsId);
    const refusal = await refusalOf(postCustomerTransfer(actor, parseTransferRequest(input)));
    expect(refusal.code).toBe("step_up_required");
    expect(await balancesOf(alice.savingsId)).toEqual(before);
  });
});
