import crypto from "node:crypto";
import { eq } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { database, databaseHandle } from "@/db/client";
import { applyMigrations } from "@/db/migrations";
import { customerLimits, payees, stepUpConfirmations, transfers } from "@/db/schema";
import { seedDemoData } from "@/db/seed-demo-data";
import type { StaffActor } from "@/lib/auth/actor";
import { createSession } from "@/lib/auth/sessions";
import { env } from "@/lib/env";
import { BankError } from "@/lib/errors";
import { approveHeldTransfer, rejectHeldTransfer, reverseTransfer } from "@/lib/ledger/decide-transfers";
import { postCustomerTransfer, transferConfirmationPayloadHash, type TransferringCustomer } from "@/lib/ledger/post-transfer";
import { useIntegrationEnvironment } from "../helpers/integration-environment";
import { checkLedgerInvariants, createTestCustomer, openFundedAccount, savePayee, soundLedger } from "../helpers/ledger-fixtures";
import { formatMinorPlain } from "../helpers/minor-text";
import { balancesOf, seededAccount, transferRequest, userIdFor } from "../helpers/transfer-fixtures";

useIntegrationEnvironment();

let alice: TransferringCustomer;
let bob: TransferringCustomer;
let aliceChecking: string;
let aliceSavings: string;
let bobChecking: string;
let adminActor: StaffActor;

beforeAll(async () => {
  await applyMigrations(databaseHandle());
  const seeded = await seedDemoData();
  const customers = seeded.signIns.filter((signIn) => signIn.role === "customer");
  const admin = seeded.signIns.find((signIn) => signIn.role === "admin");
  const [first, second] = customers;
  if (!first || !second || !admin) throw new Error("seed");
  const base = { kind: "customer" as const, role: "customer" as const, ipAddress: "198.51.100.7", userAgent: "test", sessionId: null };
  alice = { ...base, userId: await userIdFor(first.email) };
  bob = { ...base, userId: await userIdFor(second.email) };
  adminActor = { kind: "staff", role: "admin", userId: await userIdFor(admin.email), ipAddress: null, userAgent: null };
  aliceChecking = (await seededAccount(alice.userId, "checking")).id;
  aliceSavings = (await seededAccount(alice.userId, "savings")).id;
  bobChecking = (await seededAccount(bob.userId, "checking")).id;
});

describe("posting a customer transfer", () => {
  it("moves money between own accounts in one balanced posting, and a replay answers with the same transfer", async () => {
    const before = await balancesOf(aliceChecking);
    const moved = transferRequest({ fromAccountId: aliceChecking, to: { kind: "own_account", accountId: aliceSavings }, amount: "12.34" });
    const first = await postCustomerTransfer(alice, moved);
    expect(first).toMatchObject({ status: "posted", replayed: false });
    const again = await postCustomerTransfer(alice, moved);
    expect(again).toEqual({ transferId: first.transferId, status: "posted", replayed: true });
    expect((await balancesOf(aliceChecking)).balanceMinor).toBe(before.balanceMinor - 1234n);
    expect(await checkLedgerInvariants(env().transferLimits.dailyOutgoingMinor)).toEqual(soundLedger);
  });

  it("refuses the same key with a different request", async () => {
    const key = crypto.randomUUID();
    await postCustomerTransfer(alice, transferRequest({ fromAccountId: aliceChecking, to: { kind: "own_account", accountId: aliceSavings }, amount: "1.00", idempotencyKey: key }));
    await expect(
      postCustomerTransfer(alice, transferRequest({ fromAccountId: aliceChecking, to: { kind: "own_account", accountId: aliceSavings }, amount: "2.00", idempotencyKey: key })),
    ).rejects.toMatchObject({ code: "idempotency_conflict" });
  });

  it("answers not_found for another customer's account, whichever side it is on", async () => {
    await expect(
      postCustomerTransfer(alice, transferRequest({ fromAccountId: bobChecking, to: { kind: "own_account", accountId: aliceSavings }, amount: "1.00" })),
    ).rejects.toMatchObject({ code: "not_found" });
    await expect(
      postCustomerTransfer(alice, transferRequest({ fromAccountId: aliceChecking, to: { kind: "own_account", accountId: bobChecking }, amount: "1.00" })),
    ).rejects.toMatchObject({ code: "not_found" });
  });

  it("refuses more than the available balance, and writes nothing", async () => {
    const before = await balancesOf(aliceChecking);
    await expect(
      postCustomerTransfer(alice, transferRequest({ fromAccountId: aliceChecking, to: { kind: "own_account", accountId: aliceSavings }, amount: "999999.00" })),
    ).rejects.toBeInstanceOf(BankError);
    expect(await balancesOf(aliceChecking)).toEqual(before);
  });

  it("asks for a bound confirmation above the threshold and for the first payment to a new payee, not for the second", async () => {
    await expect(
      postCustomerTransfer(alice, transferRequest({ fromAccountId: aliceSavings, to: { kind: "own_account", accountId: aliceChecking }, amount: "1000.01" })),
    ).rejects.toMatchObject({ code: "step_up_required" });
    const sessionId = await createSession(database(), { userId: alice.userId, ipAddress: null, userAgent: null, showLockNotice: false, secondFactorAt: new Date() });
    const aliceSignedIn = { ...alice, sessionId };
    const newPayee = await savePayee(alice, bobChecking, { name: "Bob Brennan", createdAt: new Date() });
    const first = transferRequest({ fromAccountId: aliceChecking, to: { kind: "payee", payeeId: newPayee }, amount: "5.00" });
    await expect(postCustomerTransfer(aliceSignedIn, first)).rejects.toMatchObject({ code: "step_up_required" });
    await database().insert(stepUpConfirmations).values({
      id: crypto.randomUUID(),
      sessionId,
      payloadHash: transferConfirmationPayloadHash(first),
      confirmedAt: new Date(),
    });
    expect((await postCustomerTransfer(aliceSignedIn, first)).status).toBe("posted");
    // Once a payment to the payee has gone through, the next one is an ordinary payment.
    const second = transferRequest({ fromAccountId: aliceChecking, to: { kind: "payee", payeeId: newPayee }, amount: "6.00" });
    expect((await postCustomerTransfer(aliceSignedIn, second)).status).toBe("posted");
    await database().update(payees).set({ removedAt: new Date() }).where(eq(payees.id, newPayee));
  });

  it("reverses a posted payment with a new transfer: balances restored, the original marked reversed, a second reversal refused", async () => {
    const payee = await savePayee(alice, bobChecking, { name: "Bob Brennan" });
    const aliceBefore = await balancesOf(aliceSavings);
    const bobBefore = await balancesOf(bobChecking);
    const posted = await postCustomerTransfer(alice, transferRequest({ fromAccountId: aliceSavings, to: { kind: "payee", payeeId: payee }, amount: "900.00" }));
    expect(posted.status).toBe("posted");
    expect((await balancesOf(bobChecking)).balanceMinor).toBe(bobBefore.balanceMinor + 90_000n);
    const reversal = await reverseTransfer(adminActor, posted.transferId, "sent in error");
    expect(reversal.reversalId).toMatch(/[0-9a-f-]{36}/);
    expect(await balancesOf(aliceSavings)).toEqual(aliceBefore);
    const [original] = await database().select({ status: transfers.status }).from(transfers).where(eq(transfers.id, posted.transferId));
    expect(original?.status).toBe("reversed");
    await expect(reverseTransfer(adminActor, posted.transferId, "again")).rejects.toMatchObject({ code: "conflict" });
    expect(await checkLedgerInvariants(env().transferLimits.dailyOutgoingMinor)).toEqual(soundLedger);
  });

  it("holds a payment above the review threshold out of the available balance only; approval posts it, rejection releases it", async () => {
    const sender = await createTestCustomer("held-sender");
    const sessionId = await createSession(database(), { userId: sender.userId, ipAddress: null, userAgent: null, showLockNotice: false, secondFactorAt: new Date() });
    const withSession = { ...sender, sessionId };
    const receiver = await createTestCustomer("held-receiver");
    const source = await openFundedAccount(withSession, 1_000_000n);
    const destination = await openFundedAccount(receiver, 0n);
    const payee = await savePayee(withSession, destination);
    const reviewAboveMinor = env().transferLimits.reviewAboveMinor;
    const amountMinor = reviewAboveMinor + 100n;

    const sendHeld = async () => {
      const request = transferRequest({ fromAccountId: source, to: { kind: "payee", payeeId: payee }, amount: formatMinorPlain(amountMinor) });
      // Above the confirmation threshold too: the bound confirmation a step-up would have written.
      await database().insert(stepUpConfirmations).values({
        id: crypto.randomUUID(),
        sessionId,
        payloadHash: transferConfirmationPayloadHash(request),
        confirmedAt: new Date(),
      });
      const held = await postCustomerTransfer(withSession, request);
      expect(held.status).toBe("held");
      return held.transferId;
    };

    const firstHeld = await sendHeld();
    expect(await balancesOf(source)).toEqual({ balanceMinor: 1_000_000n, availableMinor: 1_000_000n - amountMinor });
    expect(await balancesOf(destination)).toEqual({ balanceMinor: 0n, availableMinor: 0n });
    await expect(approveHeldTransfer(adminActor, firstHeld)).resolves.toEqual({ transferId: firstHeld, status: "posted" });
    expect(await balancesOf(source)).toEqual({ balanceMinor: 1_000_000n - amountMinor, availableMinor: 1_000_000n - amountMinor });
    expect(await balancesOf(destination)).toEqual({ balanceMinor: amountMinor, availableMinor: amountMinor });
    // A decided transfer cannot be decided again.
    await expect(rejectHeldTransfer(adminActor, firstHeld, "too late")).rejects.toMatchObject({ code: "conflict" });

    const secondHeld = await sendHeld();
    expect((await balancesOf(source)).availableMinor).toBe(1_000_000n - 2n * amountMinor);
    await expect(rejectHeldTransfer(adminActor, secondHeld, "could not verify the payee")).resolves.toEqual({ transferId: secondHeld, status: "rejected" });
    expect(await balancesOf(source)).toEqual({ balanceMinor: 1_000_000n - amountMinor, availableMinor: 1_000_000n - amountMinor });
    expect(await balancesOf(destination)).toEqual({ balanceMinor: amountMinor, availableMinor: amountMinor });
    const [limits] = await database().select().from(customerLimits).where(eq(customerLimits.userId, sender.userId));
    expect(limits?.sentOnDayMinor).toBe(amountMinor);
    expect(await checkLedgerInvariants(env().transferLimits.dailyOutgoingMinor)).toEqual(soundLedger);
  });
});
