import crypto from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import { databaseHandle } from "@/db/client";
import { applyMigrations } from "@/db/migrations";
import { seedDemoData } from "@/db/seed-demo-data";
import type { CustomerActor } from "@/lib/auth/actor";
import { getMyTransfer } from "@/lib/ledger/get-transfer";
import { postCustomerTransfer, type TransferringCustomer } from "@/lib/ledger/post-transfer";
import { useIntegrationEnvironment } from "../helpers/integration-environment";
import { savePayee } from "../helpers/ledger-fixtures";
import { seededAccount, transferRequest, userIdFor } from "../helpers/transfer-fixtures";

// getMyTransfer, behind GET /api/v1/transfers/{id}: a transfer is the caller's when they initiated it or it
// touches one of their accounts; anything else is not_found. Each side sees only its own side's numbers, and
// the recipient never sees the name the sender saved for them.

useIntegrationEnvironment();

let alice: TransferringCustomer;
let bob: TransferringCustomer;
let carol: TransferringCustomer;
let aliceChecking: string;
let aliceSavings: string;
let bobChecking: string;

beforeAll(async () => {
  await applyMigrations(databaseHandle());
  const seeded = await seedDemoData();
  const [first, second] = seeded.signIns.filter((signIn) => signIn.role === "customer");
  if (!first || !second) throw new Error("seed");
  const base = { kind: "customer" as const, role: "customer" as const, ipAddress: null, userAgent: "test", sessionId: null };
  alice = { ...base, userId: await userIdFor(first.email) };
  bob = { ...base, userId: await userIdFor(second.email) };
  // A customer with no accounts and no part in any transfer: the data layer filters by the id alone.
  carol = { ...base, userId: crypto.randomUUID() };
  aliceChecking = (await seededAccount(alice.userId, "checking")).id;
  aliceSavings = (await seededAccount(alice.userId, "savings")).id;
  bobChecking = (await seededAccount(bob.userId, "checking")).id;
});

describe("reading one transfer", () => {
  it("shows the caller's own move between their accounts, memo decrypted", async () => {
    const posted = await postCustomerTransfer(
      alice,
      transferRequest({ fromAccountId: aliceChecking, to: { kind: "own_account", accountId: aliceSavings }, amount: "7.50", memo: "Rent pot" }),
    );
    const details = await getMyTransfer(alice, posted.transferId);
    expect(details).toMatchObject({
      id: posted.transferId,
      status: "posted",
      kind: "internal",
      direction: "between_own_accounts",
      amountMinor: 750n,
      currency: "GBP",
      fromAccountId: aliceChecking,
      toAccountId: aliceSavings,
      payeeName: null,
      memo: "Rent pot",
    });
    expect(details.fromAccountNumber).toBe((await seededAccount(alice.userId, "checking")).accountNumber);
    expect(details.postedAt).toBeInstanceOf(Date);
  });

  it("shows a payment to a payee to both sides, each seeing only what is theirs", async () => {
    const payeeId = await savePayee(alice, bobChecking, { name: "Bob the builder" });
    const posted = await postCustomerTransfer(
      alice,
      transferRequest({ fromAccountId: aliceChecking, to: { kind: "payee", payeeId }, amount: "20.00", memo: "Invoice 7" }),
    );
    const bobAccountNumber = (await seededAccount(bob.userId, "checking")).accountNumber;

    const asSender = await getMyTransfer(alice, posted.transferId);
    expect(asSender).toMatchObject({
      direction: "outgoing",
      fromAccountId: aliceChecking,
      toAccountId: null,
      toAccountNumber: bobAccountNumber,
      payeeName: "Bob the builder",
      memo: "Invoice 7",
    });

    const asRecipient = await getMyTransfer(bob, posted.transferId);
    expect(asRecipient).toMatchObject({
      direction: "incoming",
      fromAccountId: null,
      fromAccountNumber: null,
      toAccountId: bobChecking,
      toAccountNumber: bobAccountNumber,
      payeeName: null,
      memo: "Invoice 7",
    });
  });

  it("answers not_found to anyone else, for unknown ids and for ids that are not uuids", async () => {
    const posted = await postCustomerTransfer(
      alice,
      transferRequest({ fromAccountId: aliceChecking, to: { kind: "own_account", accountId: aliceSavings }, amount: "1.00" }),
    );
    await expect(getMyTransfer(bob, posted.transferId)).rejects.toMatchObject({ code: "not_found" });
    await expect(getMyTransfer(carol, posted.transferId)).rejects.toMatchObject({ code: "not_found" });
    await expect(getMyTransfer(alice, crypto.randomUUID())).rejects.toMatchObject({ code: "not_found" });
    await expect(getMyTransfer(alice, "1 or 1=1")).rejects.toMatchObject({ code: "not_found" });
  });

  it("refuses staff and system callers even with a real id", async () => {
    const posted = await postCustomerTransfer(
      alice,
      transferRequest({ fromAccountId: aliceChecking, to: { kind: "own_account", accountId: aliceSavings }, amount: "1.00" }),
    );
    const staff = { kind: "staff", role: "admin", userId: alice.userId, ipAddress: null, userAgent: null } as const;
    // The type forbids this call; the data layer must refuse it anyway.
    await expect(getMyTransfer(staff as unknown as CustomerActor, posted.transferId)).rejects.toMatchObject({ code: "not_found" });
  });
});
