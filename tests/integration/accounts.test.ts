import crypto from "node:crypto";
import { eq } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { database, databaseHandle } from "@/db/client";
import { applyMigrations } from "@/db/migrations";
import { accounts, users } from "@/db/schema";
import { seedDemoData } from "@/db/seed-demo-data";
import { listMyAccounts, type AccountSummary } from "@/lib/accounts/list-my-accounts";
import type { CustomerActor, StaffActor } from "@/lib/auth/actor";
import { blindIndex, normaliseEmail } from "@/lib/crypto";
import { BankError } from "@/lib/errors";
import { useIntegrationEnvironment } from "../helpers/integration-environment";

useIntegrationEnvironment();

const summaryFields: (keyof AccountSummary)[] = [
  "accountNumber",
  "availableMinor",
  "balanceMinor",
  "currency",
  "id",
  "kind",
  "nickname",
  "status",
];

let customerA: CustomerActor;
let customerB: CustomerActor;
let adminUserId: string;
let systemAccountId: string;

function customerActor(userId: string): CustomerActor {
  return { kind: "customer", userId, role: "customer", ipAddress: "198.51.100.4", userAgent: "integration-test/1.0" };
}

async function userIdFor(email: string): Promise<string> {
  const index = await blindIndex("email", normaliseEmail(email));
  const [user] = await database().select({ id: users.id }).from(users).where(eq(users.emailBlindIndex, index));
  if (!user) throw new Error(`no user for ${email}`);
  return user.id;
}

async function accountIdsOwnedBy(userId: string): Promise<string[]> {
  const rows = await database().select({ id: accounts.id }).from(accounts).where(eq(accounts.ownerId, userId));
  return rows.map((row) => row.id).sort();
}

beforeAll(async () => {
  await applyMigrations(databaseHandle());
  const seeded = await seedDemoData();
  if (!seeded.created) throw new Error("expected the seed to run on the fresh database");
  const [first, second] = seeded.signIns.filter((signIn) => signIn.role === "customer");
  const admin = seeded.signIns.find((signIn) => signIn.role === "admin");
  if (!first || !second || !admin) throw new Error("the seed should create two customers and an admin");
  customerA = customerActor(await userIdFor(first.email));
  customerB = customerActor(await userIdFor(second.email));
  adminUserId = await userIdFor(admin.email);
  const [system] = await database().select({ id: accounts.id }).from(accounts).where(eq(accounts.kind, "system"));
  if (!system) throw new Error("the seed should create a system account");
  systemAccountId = system.id;
});

describe("listMyAccounts", () => {
  it("returns exactly the accounts the customer owns", async () => {
    const ownedByA = await accountIdsOwnedBy(customerA.userId);
    expect(ownedByA).toHaveLength(2);

    const listed = await listMyAccounts(customerA);

    expect(listed.map((account) => account.id).sort()).toEqual(ownedByA);
  });

  it("never returns another customer's accounts or the bank's system account", async () => {
    const ownedByB = await accountIdsOwnedBy(customerB.userId);
    expect(ownedByB).toHaveLength(2);

    const listedForA = (await listMyAccounts(customerA)).map((account) => account.id);
    const listedForB = (await listMyAccounts(customerB)).map((account) => account.id);

    for (const id of ownedByB) expect(listedForA).not.toContain(id);
    expect(listedForA).not.toContain(systemAccountId);
    expect(listedForB).not.toContain(systemAccountId);
    expect(listedForB.sort()).toEqual(ownedByB);
    expect(listedForA.filter((id) => listedForB.includes(id))).toEqual([]);
  });

  it("returns DTOs with bigint balances matching the database and no owner or ciphertext fields", async () => {
    const listed = await listMyAccounts(customerA);
    expect(listed.length).toBeGreaterThan(0);
    for (const summary of listed) {
      expect(Object.keys(summary).sort()).toEqual(summaryFields);
      expect(summary).not.toHaveProperty("ownerId");
      expect(summary).not.toHaveProperty("ownerRole");
      expect(Object.keys(summary).some((key) => /ciphertext|owner|hash/i.test(key))).toBe(false);
      expect(typeof summary.balanceMinor).toBe("bigint");
      expect(typeof summary.availableMinor).toBe("bigint");
      expect(["checking", "savings"]).toContain(summary.kind);

      const [row] = await database().select().from(accounts).where(eq(accounts.id, summary.id));
      expect(row?.ownerId).toBe(customerA.userId);
      expect(summary.balanceMinor).toBe(row?.balanceMinor);
      expect(summary.availableMinor).toBe(row?.availableMinor);
      expect(summary.accountNumber).toBe(row?.accountNumber);
    }
  });

  it("rejects a staff actor passed off as a customer with not_found", async () => {
    const staff: StaffActor = { kind: "staff", userId: adminUserId, role: "admin", ipAddress: null, userAgent: null };

    const attempt = listMyAccounts(staff as unknown as CustomerActor);

    await expect(attempt).rejects.toBeInstanceOf(BankError);
    await expect(attempt).rejects.toMatchObject({ code: "not_found" });
  });

  it("returns nothing for a customer-shaped actor whose user owns no accounts", async () => {
    // A staff user's id under a customer actor, and an id that belongs to nobody: no rows, no error.
    await expect(listMyAccounts(customerActor(adminUserId))).resolves.toEqual([]);
    await expect(listMyAccounts(customerActor(crypto.randomUUID()))).resolves.toEqual([]);
  });
});
