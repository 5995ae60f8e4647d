import crypto from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import { databaseHandle } from "@/db/client";
import { applyMigrations } from "@/db/migrations";
import { seedDemoData } from "@/db/seed-demo-data";
import type { StaffActor } from "@/lib/auth/actor";
import { confirmStepUp } from "@/lib/auth/step-up";
import { stepUpOperationHash } from "@/lib/auth/step-up-operations";
import { moveMoney } from "@/lib/ledger/move-money";
import { postCustomerTransfer } from "@/lib/ledger/post-transfer";
import { bankDisplayName, listRecentActivity, type ActivityItem } from "@/lib/ledger/recent-activity";
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

useIntegrationEnvironment();

let alice: DemoCustomer;
let bob: DemoCustomer;
let aliceActor: SessionCustomer;
let bobActor: SessionCustomer;
let staff: StaffActor;

function input(fields: Omit<TransferRequestInput, "idempotencyKey" | "memo"> & { memo?: string }): TransferRequestInput {
  return { idempotencyKey: crypto.randomUUID(), memo: "", ...fields };
}

beforeAll(async () => {
  await applyMigrations(databaseHandle());
  const { signIns } = await seedDemoData();
  const [first, second] = signIns.filter((signIn) => signIn.role === "customer");
  const admin = signIns.find((signIn) => signIn.role === "admin");
  if (!first || !second || !admin) throw new Error("the demo seed has no customers or admin");
  alice = await demoCustomer(first);
  bob = await demoCustomer(second);
  aliceActor = await openSession(alice);
  bobActor = await openSession(bob);
  staff = { kind: "staff", role: "admin", userId: crypto.randomUUID(), ipAddress: null, userAgent: null };

  const bobAsPayee = await savePayee(aliceActor, bob.checkingId, { name: "Bob B (flatmate)" });
  // Alice: a move between her own accounts, a payment to Bob, and a large payment to Bob that is held.
  await postCustomerTransfer(
    aliceActor,
    parseTransferRequest(input({ fromAccountId: alice.checkingId, to: { kind: "own_account", accountId: alice.savingsId }, amount: "12.34", memo: "Rainy day top-up" })),
  );
  await postCustomerTransfer(
    aliceActor,
    parseTransferRequest(input({ fromAccountId: alice.checkingId, to: { kind: "payee", payeeId: bobAsPayee }, amount: "5.00", memo: "Lunch" })),
  );
  const large = input({ fromAccountId: alice.savingsId, to: { kind: "payee", payeeId: bobAsPayee }, amount: "3000.00", memo: "Car" });
  await confirmStepUp(aliceActor, await authenticatorCode(alice), stepUpOperationHash("transfer", aliceActor, large));
  const savingsBefore = await balancesOf(alice.savingsId);
  const savingsAvailableBefore = savingsBefore.availableMinor;
  // Through the page's own use case, whose receipt the confirmation screen shows.
  const held = await moveMoney(aliceActor, parseTransferRequest(large));
  expect(held).toMatchObject({
    status: "held",
    replayed: false,
    amountMinor: 300_000n,
    fromNickname: "Rainy day",
    toLabel: "Bob B (flatmate)",
    fromAvailableMinor: savingsAvailableBefore - 300_000n,
  });
  // Held: out of the available balance at once, still in the posted balance until staff decide.
  expect((await balancesOf(alice.savingsId)).balanceMinor).toBe(savingsBefore.balanceMinor);
  // Bob: a move between his own accounts, which Alice must never see.
  await postCustomerTransfer(
    bobActor,
    parseTransferRequest(input({ fromAccountId: bob.savingsId, to: { kind: "own_account", accountId: bob.checkingId }, amount: "7.77", memo: "Bob's private note" })),
  );
});

function labels(items: ActivityItem[]): string[] {
  return items.flatMap((item) => [item.counterpartyLabel, item.accountNickname, item.memo]);
}

describe("recent activity", () => {
  it("shows the customer's own moves, payments and the held payment as pending review, newest first", async () => {
    const items = await listRecentActivity(aliceActor);
    expect(items.length).toBeLessThanOrEqual(8);
    const [newest, second, third] = items;
    expect(newest).toMatchObject({
      direction: "outgoing",
      status: "pending_review",
      amountMinor: 300_000n,
      counterpartyLabel: "Bob B (flatmate)",
      accountNickname: "Rainy day",
      memo: "Car",
    });
    expect(second).toMatchObject({ direction: "outgoing", status: "posted", amountMinor: 500n, counterpartyLabel: "Bob B (flatmate)", memo: "Lunch" });
    expect(third).toMatchObject({
      direction: "between_own_accounts",
      status: "posted",
      amountMinor: 1234n,
      accountNickname: "Everyday",
      counterpartyLabel: "Rainy day",
      memo: "Rainy day top-up",
    });
    const times = items.map((item) => item.occurredAt.getTime());
    expect(times).toEqual([...times].sort((first, later) => later - first));
  });

  it("labels the opening deposits as coming from the bank", async () => {
    const items = await listRecentActivity(aliceActor, 50);
    const deposits = items.filter((item) => item.counterpartyLabel === bankDisplayName);
    expect(deposits.length).toBeGreaterThanOrEqual(2);
    expect(deposits.every((item) => item.direction === "incoming" && item.status === "posted")).toBe(true);
  });

  it("shows the recipient a posted payment as received with its reference, never the sender's name or the held one", async () => {
    const items = await listRecentActivity(bobActor, 50);
    const received = items.filter((item) => item.direction === "incoming" && item.counterpartyLabel !== bankDisplayName);
    expect(received).toHaveLength(1);
    expect(received[0]).toMatchObject({ counterpartyLabel: "Payment received", memo: "Lunch", amountMinor: 500n, accountNickname: "Current" });
    const everything = labels(items).join(" | ");
    expect(everything).not.toContain(alice.signIn.legalName);
    expect(everything).not.toContain("Everyday");
    expect(everything).not.toContain("Rainy day");
    expect(everything).not.toContain("Car");
    expect(items.some((item) => item.status === "pending_review")).toBe(false);
  });

  it("never shows one customer another customer's activity", async () => {
    const aliceItems = await listRecentActivity(aliceActor, 50);
    expect(labels(aliceItems).join(" | ")).not.toContain("Bob's private note");
    expect(aliceItems.some((item) => item.amountMinor === 777n)).toBe(false);
    expect(labels(aliceItems).join(" | ")).not.toContain("House deposit");
    const bobItems = await listRecentActivity(bobActor, 50);
    expect(bobItems.some((item) => item.memo === "Bob's private note" && item.direction === "between_own_accounts")).toBe(true);
    expect(labels(bobItems).join(" | ")).not.toContain("Rainy day top-up");
  });

  it("answers not_found to staff, who hold no accounts", async () => {
    await expect(listRecentActivity(staff as never)).rejects.toMatchObject({ code: "not_found" });
  });
});
