import crypto from "node:crypto";
import { eq } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { database, databaseHandle } from "@/db/client";
import { applyMigrations } from "@/db/migrations";
import { accounts, payees, users } from "@/db/schema";
import { seedDemoData } from "@/db/seed-demo-data";
import type { CustomerActor } from "@/lib/auth/actor";
import { blindIndex, encryptField, normaliseEmail } from "@/lib/crypto";
import { getMyTransfer } from "@/lib/ledger/get-transfer";
import { postCustomerTransfer, type TransferringCustomer } from "@/lib/ledger/post-transfer";
import { parseTransferRequest } from "@/lib/validation/transfer";
import { useIntegrationEnvironment } from "../helpers/integration-environment";

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

async function userIdFor(email: string): Promise<string> {
  const index = await blindIndex("email", normaliseEmail(email));
  const [user] = await database().select({ id: users.id }).from(users).where(eq(users.emailBlindIndex, index));
  if (!user) throw new Error(`no user for ${email}`);
  return user.id;
}

async function accountOf(userId: string, kind: "checking" | "savings"): Promise<{ id: string; accountNumber: string }> {
  const rows = await database()
    .select({ id: accounts.id, accountNumber: accounts.accountNumber, kind: accounts.kind })
    .from(accounts)
    .where(eq(accounts.ownerId, userId));
  const row = rows.find((candidate) => candidate.kind === kind);
  if (!row) throw new Error("missing account");
  return row;
}

async function savePayee(owner: CustomerActor, accountId: string, name: string): Promise<string> {
  const id = crypto.randomUUID();
  await database()
    .insert(payees)
    .values({
      id,
      ownerId: owner.userId,
      accountId,
      nameCiphertext: await encryptField(name, { table: "payees", column: "name", rowId: id }),
      matchResult: "exact_match",
      // Saved long enough ago that the first payment needs no confirmation.
      createdAt: new Date(Date.now() - 3 * 86_400_000),
    });
  return id;
}

function request(fields: Record<string, unknown>) {
  return parseTransferRequest({ idempotencyKey: crypto.randomUUID(), memo: "", ...fields });
}

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
  aliceChecking = (await accountOf(alice.userId, "checking")).id;
  aliceSavings = (await accountOf(alice.userId, "savings")).id;
  bobChecking = (await accountOf(bob.userId, "checking")).id;
});

describe("reading one transfer", () => {
  it("shows the caller's own move between their accounts, memo decrypted", async () => {
    const posted = await postCustomerTransfer(
      alice,
      request({ fromAccountId: aliceChecking, to: { kind: "own_account", accountId: aliceSavings }, amount: "7.50", memo: "Rent pot" }),
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
    expect(details.fromAccountNumber).toBe((await accountOf(alice.userId, "checking")).accountNumber);
    expect(details.postedAt).toBeInstanceOf(Date);
  });

  it("shows a payment to a payee to both sides, each seeing only what is theirs", async () => {
    const payeeId = await savePayee(alice, bobChecking, "Bob the builder");
    const posted = await postCustomerTransfer(
      alice,
      request({ fromAccountId: aliceChecking, to: { kind: "payee", payeeId }, amount: "20.00", memo: "Invoice 7" }),
    );
    const bobAccountNumber = (await accountOf(bob.userId, "checking")).accountNumber;

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
      request({ fromAccountId: aliceChecking, to: { kind: "own_account", accountId: aliceSavings }, amount: "1.00" }),
    );
    await expect(getMyTransfer(bob, posted.transferId)).rejects.toMatchObject({ code: "not_found" });
    await expect(getMyTransfer(carol, posted.transferId)).rejects.toMatchObject({ code: "not_found" });
    await expect(getMyTransfer(alice, crypto.randomUUID())).rejects.toMatchObject({ code: "not_found" });
    await expect(getMyTransfer(alice, "1 or 1=1")).rejects.toMatchObject({ code: "not_found" });
  });

  it("refuses staff and system callers even with a real id", async () => {
    const posted = await postCustomerTransfer(
      alice,
      request({ fromAccountId: aliceChecking, to: { kind: "own_account", accountId: aliceSavings }, amount: "1.00" }),
    );
    const staff = { kind: "staff", role: "admin", userId: alice.userId, ipAddress: null, userAgent: null } as const;
    // The type forbids this call; the data layer must refuse it anyway.
    await expect(getMyTransfer(staff as unknown as CustomerActor, posted.transferId)).rejects.toMatchObject({ code: "not_found" });
  });
});
