import fs from "node:fs";
import { and, count, desc, eq, sql } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { database, databaseHandle } from "@/db/client";
import { applyMigrations } from "@/db/migrations";
import { accounts, auditEvents, ledgerEntries, transfers, users } from "@/db/schema";
import { seedDemoData, type DemoCredentialsFile, type DemoSignIn } from "@/db/seed-demo-data";
import { generate } from "otplib";
import { authenticateWithPassword } from "@/lib/auth/authenticate-with-password";
import { totpSecretField, verifyTotpForUser } from "@/lib/auth/totp";
import { blindIndex, decryptField, normaliseEmail } from "@/lib/crypto";
import { env } from "@/lib/env";
import { queryRows } from "../helpers/database-queries";
import { useIntegrationEnvironment } from "../helpers/integration-environment";

const integration = useIntegrationEnvironment();

const minimumOpeningBalanceMinor = 5_000_000n; // 50,000.00

let firstSeed: Awaited<ReturnType<typeof seedDemoData>>;

beforeAll(async () => {
  await applyMigrations(databaseHandle());
  firstSeed = await seedDemoData();
});

async function tableCounts() {
  const db = database();
  type CountedTable = typeof users | typeof accounts | typeof transfers | typeof ledgerEntries | typeof auditEvents;
  const countOf = async (table: CountedTable) => (await db.select({ rows: count() }).from(table))[0]?.rows;
  return {
    users: await countOf(users),
    accounts: await countOf(accounts),
    transfers: await countOf(transfers),
    ledgerEntries: await countOf(ledgerEntries),
    auditEvents: await countOf(auditEvents),
  };
}

async function userIdFor(email: string): Promise<string> {
  const index = await blindIndex("email", normaliseEmail(email));
  const [user] = await database().select({ id: users.id }).from(users).where(eq(users.emailBlindIndex, index));
  if (!user) throw new Error(`no user for ${email}`);
  return user.id;
}

function signInsOf(role: DemoSignIn["role"]): DemoSignIn[] {
  return firstSeed.signIns.filter((signIn) => signIn.role === role);
}

describe("seedDemoData on an empty database", () => {
  it("reports that it created the demo bank and returns one sign-in per user", async () => {
    expect(firstSeed.created).toBe(true);
    const [row] = await database().select({ rows: count() }).from(users);
    expect(firstSeed.signIns).toHaveLength(row?.rows ?? -1);
  });

  it("creates at least two customers, two admins, one support agent and one auditor", async () => {
    const rows = await database().select({ role: users.role, rows: count() }).from(users).groupBy(users.role);
    const byRole = Object.fromEntries(rows.map((row) => [row.role, row.rows]));
    expect(byRole.customer).toBeGreaterThanOrEqual(2);
    expect(byRole.admin).toBe(2);
    expect(byRole.support).toBe(1);
    expect(byRole.auditor).toBe(1);
    expect(signInsOf("customer")).toHaveLength(byRole.customer ?? -1);
  });

  it("gives every customer a checking and a savings account holding at least 50,000.00", async () => {
    const customers = await database().select({ id: users.id }).from(users).where(eq(users.role, "customer"));
    for (const customer of customers) {
      const owned = await database().select().from(accounts).where(eq(accounts.ownerId, customer.id));
      expect(owned.map((account) => account.kind).sort()).toEqual(["checking", "savings"]);
      for (const account of owned) {
        expect(account.ownerRole).toBe("customer");
        expect(account.status).toBe("active");
        expect(account.balanceMinor).toBeGreaterThanOrEqual(minimumOpeningBalanceMinor);
        expect(account.availableMinor).toBe(account.balanceMinor);
      }
    }
    const staffAccounts = await queryRows<{ total: string }>(
      sql`select count(*)::text as total from accounts a join users u on u.id = a.owner_id where u.role <> 'customer'`,
    );
    expect(staffAccounts[0]?.total).toBe("0");
  });

  it("keeps a ledger that sums to zero, with every balance equal to the sum of the account's entries", async () => {
    const entries = await database().select().from(ledgerEntries);
    expect(entries.length).toBeGreaterThan(0);
    expect(entries.reduce((total, entry) => total + entry.amountMinor, 0n)).toBe(0n);

    const allAccounts = await database().select().from(accounts);
    // The migrations create the bank's three system accounts; the seed funds customers from the funding one.
    expect(allAccounts.filter((account) => account.kind === "system").map((account) => account.systemPurpose).sort()).toEqual([
      "fees",
      "funding",
      "suspense",
    ]);
    for (const account of allAccounts) {
      const own = entries.filter((entry) => entry.accountId === account.id);
      expect(own.reduce((total, entry) => total + entry.amountMinor, 0n)).toBe(account.balanceMinor);
    }
    expect(allAccounts.reduce((total, account) => total + account.balanceMinor, 0n)).toBe(0n);

    // Every transfer balances on its own, too (the database refuses the commit otherwise).
    for (const transfer of await database().select().from(transfers)) {
      const legs = entries.filter((entry) => entry.transferId === transfer.id);
      expect(legs).toHaveLength(2);
      expect(legs.reduce((total, entry) => total + entry.amountMinor, 0n)).toBe(0n);
    }
  });

  it("writes the credentials file with mode 0600 and the sign-ins it returned", () => {
    const credentialsPath = env().demoCredentialsPath;
    expect(credentialsPath.startsWith(integration().dataDirectory)).toBe(true);
    const status = fs.statSync(credentialsPath);
    expect(status.mode & 0o777).toBe(0o600);
    const file = JSON.parse(fs.readFileSync(credentialsPath, "utf8")) as DemoCredentialsFile;
    expect(file.signIns).toEqual(firstSeed.signIns);
    const passwords = file.signIns.map((signIn) => signIn.password);
    expect(new Set(passwords).size).toBe(passwords.length);
  });

  it("stores no email address or legal name in plaintext in any column of users", async () => {
    // row_to_json covers every column, including any a later migration adds.
    const rows = await queryRows<{ row: string }>(sql`select row_to_json(u)::text as row from users u`);
    expect(rows).toHaveLength(firstSeed.signIns.length);
    for (const signIn of firstSeed.signIns) {
      for (const { row } of rows) {
        // Ciphertexts, the password hash and the blind index are random text, in which a short name such as
        // "bob" turns up by chance once in a few hundred rows; they are blanked before searching.
        const text = row
          .replace(/v1:[a-z]+:[0-9]+:[A-Za-z0-9_-]+:[A-Za-z0-9_-]*/g, "<ciphertext>")
          .replace(/\$argon2id\$[^"]*/g, "<password hash>")
          .replace(/"[0-9a-f]{64}"/g, '"<blind index>"')
          .toLowerCase();
        expect(text).toContain("<ciphertext>");
        expect(text).not.toContain(signIn.email.toLowerCase());
        expect(text).not.toContain(signIn.legalName.toLowerCase());
        expect(text).not.toContain(signIn.email.split("@")[0]?.toLowerCase());
      }
    }
  });

  it("stores emails and legal names as ciphertext bound to the row, decrypting to the normalised values", async () => {
    for (const signIn of firstSeed.signIns) {
      const userId = await userIdFor(signIn.email);
      const [user] = await database().select().from(users).where(eq(users.id, userId));
      if (!user) throw new Error("user vanished");
      expect(user.role).toBe(signIn.role);
      const emailContext = { table: "users", column: "email", rowId: userId };
      await expect(decryptField(user.emailCiphertext, emailContext)).resolves.toBe(normaliseEmail(signIn.email));
      await expect(
        decryptField(user.legalNameCiphertext, { table: "users", column: "legal_name", rowId: userId }),
      ).resolves.toBe(signIn.legalName);
      // The row id is part of the authenticated data: the ciphertext does not open for another row.
      const other = firstSeed.signIns.find((candidate) => candidate !== signIn);
      if (!other) throw new Error("expected more than one seeded user");
      const otherUserId = await userIdFor(other.email);
      await expect(decryptField(user.emailCiphertext, { ...emailContext, rowId: otherUserId })).rejects.toThrow();
    }
  });
});

describe("the seeded second factor", () => {
  it("enrols every user with an authenticator secret of their own, stored only encrypted under the mfa key", async () => {
    const secrets = firstSeed.signIns.map((signIn) => signIn.totpSecret);
    expect(new Set(secrets).size).toBe(secrets.length);
    const rows = await queryRows<{ row: string }>(sql`select row_to_json(u)::text as row from users u`);
    for (const signIn of firstSeed.signIns) {
      expect(signIn.totpSecret).toMatch(/^[A-Z2-7]{32}$/);
      for (const { row } of rows) expect(row).not.toContain(signIn.totpSecret);
      const userId = await userIdFor(signIn.email);
      const [user] = await database().select().from(users).where(eq(users.id, userId));
      expect(user?.totpEnrolledAt).toBeInstanceOf(Date);
      await expect(decryptField(user?.totpSecretCiphertext ?? "", totpSecretField(userId), "mfa")).resolves.toBe(
        signIn.totpSecret,
      );
      // The PII key cannot open it: the secret is under its own data key.
      await expect(decryptField(user?.totpSecretCiphertext ?? "", totpSecretField(userId), "pii")).rejects.toThrow();
    }
  });

  it("accepts a code computed from the secret in the credentials file", async () => {
    const customer = signInsOf("customer")[0];
    if (!customer) throw new Error("no seeded customer");
    const code = await generate({ secret: customer.totpSecret });
    await expect(verifyTotpForUser(database(), await userIdFor(customer.email), code)).resolves.toMatchObject({
      valid: true,
    });
  });
});

describe("seedDemoData on a database that already holds users", () => {
  it("creates nothing and leaves the credentials file alone", async () => {
    const before = await tableCounts();
    const credentialsBefore = fs.readFileSync(env().demoCredentialsPath, "utf8");

    const again = await seedDemoData();

    expect(again).toEqual({ created: false, signIns: [] });
    expect(await tableCounts()).toEqual(before);
    expect(fs.readFileSync(env().demoCredentialsPath, "utf8")).toBe(credentialsBefore);
  });
});

describe("signing in with the seeded credentials", () => {
  const context = { ipAddress: "203.0.113.7", userAgent: "integration-test/1.0" };

  async function latestAuditEvent(action: string) {
    const [event] = await database()
      .select()
      .from(auditEvents)
      .where(and(eq(auditEvents.action, action), eq(auditEvents.ipAddress, context.ipAddress)))
      .orderBy(desc(auditEvents.sequence))
      .limit(1);
    return event;
  }

  it("accepts every seeded password and records auth.sign_in.password_verified (not yet a sign-in)", async () => {
    for (const signIn of firstSeed.signIns) {
      const userId = await userIdFor(signIn.email);
      // Upper case and surrounding spaces: the email is normalised before the blind-index lookup.
      const credentials = { email: `  ${signIn.email.toUpperCase()} `, password: signIn.password };
      const result = await authenticateWithPassword(credentials, context);
      expect(result).toEqual({ userId, role: signIn.role });

      // The password is only the first step: the sign-in succeeds after the second factor (complete-sign-in.ts).
      const event = await latestAuditEvent("auth.sign_in.password_verified");
      expect(event).toMatchObject({
        actorId: userId,
        actorRole: signIn.role,
        targetType: "user",
        targetId: userId,
        ipAddress: context.ipAddress,
        userAgent: context.userAgent,
      });
    }
  });

  it("refuses a wrong password with null and records auth.sign_in.failed without the password", async () => {
    const customer = signInsOf("customer")[0];
    if (!customer) throw new Error("no seeded customer");
    const userId = await userIdFor(customer.email);
    const wrongPassword = `${customer.password}x`;
    const [before] = await database()
      .select({ rows: count() })
      .from(auditEvents)
      .where(eq(auditEvents.action, "auth.sign_in.failed"));

    const attempt = authenticateWithPassword({ email: customer.email, password: wrongPassword }, context);
    await expect(attempt).resolves.toBeNull();

    const [after] = await database()
      .select({ rows: count() })
      .from(auditEvents)
      .where(eq(auditEvents.action, "auth.sign_in.failed"));
    expect((after?.rows ?? 0) - (before?.rows ?? 0)).toBe(1);
    const event = await latestAuditEvent("auth.sign_in.failed");
    expect(event).toMatchObject({
      actorId: null,
      targetType: "user",
      targetId: userId,
      ipAddress: context.ipAddress,
      userAgent: context.userAgent,
      details: { reason: "wrong_password" },
    });
    // No audit event at all, from the seed or any sign-in, carries a password or an email address.
    const trail = (await queryRows<{ row: string }>(sql`select row_to_json(a)::text as row from audit_events a`))
      .map(({ row }) => row.toLowerCase())
      .join("\n");
    for (const signIn of firstSeed.signIns) {
      expect(trail).not.toContain(signIn.password.toLowerCase());
      expect(trail).not.toContain(signIn.email.toLowerCase());
    }
    expect(trail).not.toContain(wrongPassword.toLowerCase());
  });

  it("refuses an unknown email and another user's password alike", async () => {
    const [first, second] = signInsOf("customer");
    if (!first || !second) throw new Error("expected two seeded customers");
    await expect(
      authenticateWithPassword({ email: "nobody@example.com", password: first.password }, context),
    ).resolves.toBeNull();
    expect((await latestAuditEvent("auth.sign_in.failed"))?.details).toEqual({ reason: "unknown_account", lockedNow: false });
    const swapped = authenticateWithPassword({ email: first.email, password: second.password }, context);
    await expect(swapped).resolves.toBeNull();
    expect((await latestAuditEvent("auth.sign_in.failed"))?.details).toEqual({ reason: "wrong_password", lockedNow: false });
  });
});
