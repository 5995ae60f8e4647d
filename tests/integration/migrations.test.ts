import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { eq, sql, type SQL } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { database, databaseHandle } from "@/db/client";
import { applyMigrations } from "@/db/migrations";
import { accounts, auditEvents, ledgerEntries, transfers, users } from "@/db/schema";
import { recordAuditEvent } from "@/lib/audit/record-audit-event";
import { databaseFailureOf, queryRows, sqlState } from "../helpers/database-queries";
import { useIntegrationEnvironment } from "../helpers/integration-environment";

// This file tests the schema itself (the migrations and the triggers behind the invariants), so on PostgreSQL
// it connects as the owner role: the app's runtime role is refused UPDATE and DELETE on the append-only tables
// by privileges before their triggers run (tests/integration/database-roles.test.ts covers that role).
useIntegrationEnvironment({ connectAs: "owner" });

const applicationTables = ["accounts", "audit_events", "ledger_entries", "transfers", "users"];
const journal = JSON.parse(
  fs.readFileSync(path.resolve(import.meta.dirname, "../../drizzle/meta/_journal.json"), "utf8"),
) as { entries: { tag: string }[] };

async function publicTables(): Promise<string[]> {
  const rows = await queryRows<{ table_name: string }>(
    sql`select table_name from information_schema.tables where table_schema = 'public' order by table_name`,
  );
  return rows.map((row) => row.table_name);
}

/** Everything a repeated migration could add twice or change: tables, columns, constraints, triggers, history. */
async function schemaFingerprint() {
  const columns = await queryRows<{ entry: string }>(
    sql`select table_name || '.' || column_name || ':' || data_type as entry
          from information_schema.columns where table_schema = 'public' order by 1`,
  );
  const constraints = await queryRows<{ entry: string }>(
    sql`select conrelid::regclass::text || '.' || conname as entry
          from pg_constraint where connamespace = 'public'::regnamespace order by 1`,
  );
  const triggers = await queryRows<{ entry: string }>(
    sql`select tgrelid::regclass::text || '.' || tgname as entry from pg_trigger where not tgisinternal order by 1`,
  );
  const migrations = await queryRows<{ entry: string }>(
    sql`select hash || '@' || created_at::text as entry from drizzle.__drizzle_migrations order by id`,
  );
  const flatten = (rows: { entry: string }[]) => rows.map((row) => row.entry);
  return {
    tables: await publicTables(),
    columns: flatten(columns),
    constraints: flatten(constraints),
    triggers: flatten(triggers),
    migrations: flatten(migrations),
  };
}

/** Runs a `select count(*)::text as total ...` query. */
async function countRows(query: SQL): Promise<number> {
  const [row] = await queryRows<{ total: string }>(query);
  return Number(row?.total);
}

function entriesOf(transferId: string) {
  return database().select().from(ledgerEntries).where(eq(ledgerEntries.transferId, transferId));
}

async function insertUser(role: "customer" | "admin" | "support" | "auditor"): Promise<string> {
  const id = crypto.randomUUID();
  // The schema does not interpret these columns; the seed and sign-in tests cover the real encryption.
  await database().insert(users).values({
    id,
    role,
    emailCiphertext: `ciphertext-${id}`,
    emailBlindIndex: `index-${id}`,
    legalNameCiphertext: `ciphertext-name-${id}`,
    passwordHash: "not-a-real-hash",
  });
  return id;
}

function accountNumber(): string {
  return crypto.randomInt(1_000_000_000, 10_000_000_000).toString();
}

/** A system account of its own currency (one system account per purpose and currency is allowed). */
async function insertSystemAccount(currency: string): Promise<string> {
  const id = crypto.randomUUID();
  await database()
    .insert(accounts)
    .values({ id, kind: "system", systemPurpose: "funding", accountNumber: accountNumber(), currency, nickname: "Test funding" });
  return id;
}

async function insertCustomerAccount(ownerId: string): Promise<string> {
  const id = crypto.randomUUID();
  await database().insert(accounts).values({
    id,
    ownerId,
    ownerRole: "customer",
    kind: "checking",
    accountNumber: accountNumber(),
    currency: "GBP",
    nickname: "Test checking",
  });
  return id;
}

/** Inserts a transfer with the given ledger legs in one transaction; the commit is where the ledger is checked. */
interface Leg {
  accountId: string;
  amountMinor: bigint;
}

async function postTransfer(debitAccountId: string, creditAccountId: string, legs: Leg[]) {
  const transferId = crypto.randomUUID();
  await database().transaction(async (tx) => {
    await tx.insert(transfers).values({
      id: transferId,
      kind: "deposit",
      status: "posted",
      debitAccountId,
      creditAccountId,
      amountMinor: 100n,
      currency: "GBP",
      postedAt: new Date(),
    });
    for (const leg of legs) {
      await tx.insert(ledgerEntries).values({
        id: crypto.randomUUID(),
        transferId,
        accountId: leg.accountId,
        amountMinor: leg.amountMinor,
        balanceAfterMinor: leg.amountMinor,
      });
    }
  });
  return transferId;
}

describe("migrations", () => {
  it("apply every migration to an empty database and create the application tables", async () => {
    expect(await publicTables()).toEqual([]);

    await applyMigrations(databaseHandle());

    expect(await publicTables()).toEqual(expect.arrayContaining(applicationTables));
    expect(await countRows(sql`select count(*)::text as total from drizzle.__drizzle_migrations`)).toBe(
      journal.entries.length,
    );
    const triggers = await queryRows<{ tgname: string }>(
      sql`select tgname from pg_trigger where not tgisinternal order by tgname`,
    );
    expect(triggers.map((row) => row.tgname)).toEqual(
      expect.arrayContaining([
        "audit_events_append_only",
        "audit_events_no_truncate",
        "ledger_entries_append_only",
        "ledger_entries_balanced",
        "ledger_entries_no_truncate",
      ]),
    );
  });

  it("change nothing when applied again", async () => {
    await applyMigrations(databaseHandle());
    const before = await schemaFingerprint();

    await applyMigrations(databaseHandle());

    expect(await schemaFingerprint()).toEqual(before);
    expect(before.migrations).toHaveLength(journal.entries.length);
  });

  it.runIf(process.env.INTEGRATION_DATABASE === "postgres")(
    "run against the PostgreSQL major version the SQL is written for",
    async () => {
      // drizzle/0001 promises "only SQL that PostgreSQL 15 accepts"; the postgres project is what holds it to
      // that, so it must really be talking to 15 (TEST_POSTGRES_EXPECTED_MAJOR overrides for other servers).
      const [row] = await queryRows<{ version: string }>(sql`select current_setting('server_version_num') as version`);
      const major = Math.floor(Number(row?.version) / 10_000);
      expect(major).toBe(Number(process.env.TEST_POSTGRES_EXPECTED_MAJOR ?? 15));
    },
  );
});

describe("database invariants", () => {
  let fundingAccountId: string;
  let otherSystemAccountId: string;
  let customerAccountId: string;
  let postedTransferId: string;

  beforeAll(async () => {
    // A no-op when the tests above already migrated; keeps this block runnable on its own.
    await applyMigrations(databaseHandle());
    fundingAccountId = await insertSystemAccount("EUR");
    otherSystemAccountId = await insertSystemAccount("USD");
    customerAccountId = await insertCustomerAccount(await insertUser("customer"));
    postedTransferId = await postTransfer(fundingAccountId, customerAccountId, [
      { accountId: fundingAccountId, amountMinor: -100n },
      { accountId: customerAccountId, amountMinor: 100n },
    ]);
    await recordAuditEvent(database(), { actorId: null, actorRole: "system", action: "test.history.written" });
  });

  describe("ledger_entries is append-only", () => {
    it("refuses UPDATE and leaves the entry as it was", async () => {
      const failure = await databaseFailureOf(
        database()
          .update(ledgerEntries)
          .set({ amountMinor: 999n })
          .where(eq(ledgerEntries.transferId, postedTransferId)),
      );
      expect(failure.code).toBe(sqlState.insufficientPrivilege);
      expect(failure.message).toContain("append-only");
      const entries = await entriesOf(postedTransferId);
      expect(entries.map((entry) => entry.amountMinor).sort()).toEqual([-100n, 100n]);
    });

    it("refuses DELETE and TRUNCATE", async () => {
      const deletion = await databaseFailureOf(
        database().delete(ledgerEntries).where(eq(ledgerEntries.transferId, postedTransferId)),
      );
      expect(deletion.code).toBe(sqlState.insufficientPrivilege);
      expect(deletion.message).toContain("append-only");
      const truncation = await databaseFailureOf(database().execute(sql`truncate ledger_entries cascade`));
      expect(truncation.code).toBe(sqlState.insufficientPrivilege);
      expect(await entriesOf(postedTransferId)).toHaveLength(2);
    });
  });

  describe("audit_events is append-only", () => {
    it("refuses UPDATE and leaves the event as it was", async () => {
      const failure = await databaseFailureOf(
        database()
          .update(auditEvents)
          .set({ action: "test.history.rewritten" })
          .where(eq(auditEvents.action, "test.history.written")),
      );
      expect(failure.code).toBe(sqlState.insufficientPrivilege);
      expect(failure.message).toContain("append-only");
      const events = await database().select().from(auditEvents).where(eq(auditEvents.action, "test.history.written"));
      expect(events).toHaveLength(1);
    });

    it("refuses DELETE and TRUNCATE", async () => {
      const deletion = await databaseFailureOf(
        database().delete(auditEvents).where(eq(auditEvents.action, "test.history.written")),
      );
      expect(deletion.code).toBe(sqlState.insufficientPrivilege);
      expect(deletion.message).toContain("append-only");
      const truncation = await databaseFailureOf(database().execute(sql`truncate audit_events cascade`));
      expect(truncation.code).toBe(sqlState.insufficientPrivilege);
      const events = await database().select().from(auditEvents).where(eq(auditEvents.action, "test.history.written"));
      expect(events).toHaveLength(1);
    });
  });

  describe("a transfer's ledger entries must sum to zero", () => {
    it("commits a transfer whose entries balance", async () => {
      const transferId = await postTransfer(fundingAccountId, otherSystemAccountId, [
        { accountId: fundingAccountId, amountMinor: -250n },
        { accountId: otherSystemAccountId, amountMinor: 250n },
      ]);
      expect(await entriesOf(transferId)).toHaveLength(2);
    });

    it("refuses at commit a transfer whose entries do not balance, and keeps nothing of it", async () => {
      const transferId = crypto.randomUUID();
      const ledgerEntryIds: string[] = [];
      let reachedCommit = false;
      const failure = await databaseFailureOf(
        database().transaction(async (tx) => {
          await tx.insert(transfers).values({
            id: transferId,
            kind: "deposit",
            status: "posted",
            debitAccountId: fundingAccountId,
            creditAccountId: otherSystemAccountId,
            amountMinor: 300n,
            currency: "GBP",
            postedAt: new Date(),
          });
          for (const [accountId, amountMinor] of [
            [fundingAccountId, -300n],
            [otherSystemAccountId, 299n],
          ] as const) {
            const id = crypto.randomUUID();
            ledgerEntryIds.push(id);
            await tx
              .insert(ledgerEntries)
              .values({ id, transferId, accountId, amountMinor, balanceAfterMinor: amountMinor });
          }
          // The check is deferred: inside the transaction the unbalanced entries are accepted.
          const [pending] = await tx.select().from(ledgerEntries).where(eq(ledgerEntries.transferId, transferId));
          expect(pending).toBeDefined();
          reachedCommit = true;
        }),
      );
      expect(reachedCommit).toBe(true);
      expect(failure.code).toBe(sqlState.checkViolation);
      expect(failure.message).toContain("sum to -1");

      expect(await database().select().from(transfers).where(eq(transfers.id, transferId))).toEqual([]);
      expect(await entriesOf(transferId)).toEqual([]);
    });

    it("refuses a transfer with a single leg", async () => {
      const countTransfers = () => countRows(sql`select count(*)::text as total from transfers`);
      const before = await countTransfers();
      const failure = await databaseFailureOf(
        postTransfer(fundingAccountId, otherSystemAccountId, [{ accountId: otherSystemAccountId, amountMinor: 1n }]),
      );
      expect(failure.code).toBe(sqlState.checkViolation);
      expect(await countTransfers()).toBe(before);
    });
  });

  describe("accounts", () => {
    it("refuse a negative balance on a customer account", async () => {
      const overdrawn = await databaseFailureOf(
        database()
          .update(accounts)
          .set({ balanceMinor: -1n, availableMinor: -1n })
          .where(eq(accounts.id, customerAccountId)),
      );
      expect(overdrawn.code).toBe(sqlState.checkViolation);
      expect(overdrawn.message).toContain("accounts_customer_balance_not_negative");

      const [account] = await database().select().from(accounts).where(eq(accounts.id, customerAccountId));
      expect(account?.balanceMinor).toBe(0n);
    });

    it("let a system account go negative", async () => {
      await database()
        .update(accounts)
        .set({ balanceMinor: -500n, availableMinor: -500n })
        .where(eq(accounts.id, fundingAccountId));
      const [account] = await database().select().from(accounts).where(eq(accounts.id, fundingAccountId));
      expect(account?.balanceMinor).toBe(-500n);
    });

    it("refuse an account owned by a staff user, whatever owner role is claimed", async () => {
      for (const role of ["admin", "support", "auditor"] as const) {
        const staffId = await insertUser(role);
        const base = { kind: "checking" as const, currency: "GBP", nickname: "Staff money", ownerId: staffId };

        // Claiming the staff role is stopped by the check constraint...
        const honest = await databaseFailureOf(
          database()
            .insert(accounts)
            .values({ ...base, id: crypto.randomUUID(), accountNumber: accountNumber(), ownerRole: role }),
        );
        expect(honest.code).toBe(sqlState.checkViolation);
        expect(honest.message).toContain("accounts_owner_role_is_customer");

        // ...and claiming "customer" for a staff user by the composite foreign key (id, role).
        const disguised = await databaseFailureOf(
          database()
            .insert(accounts)
            .values({ ...base, id: crypto.randomUUID(), accountNumber: accountNumber(), ownerRole: "customer" }),
        );
        expect(disguised.code).toBe(sqlState.foreignKeyViolation);
        expect(disguised.message).toContain("accounts_owner_is_customer_fk");

        expect(await database().select().from(accounts).where(eq(accounts.ownerId, staffId))).toEqual([]);
      }
    });

    it("refuse a customer account without an owner", async () => {
      const failure = await databaseFailureOf(
        database()
          .insert(accounts)
          .values({
            id: crypto.randomUUID(),
            kind: "savings",
            accountNumber: accountNumber(),
            currency: "GBP",
            nickname: "Nobody's",
          }),
      );
      expect(failure.code).toBe(sqlState.checkViolation);
      expect(failure.message).toContain("accounts_system_iff_no_owner");
    });
  });
});
