/**
 * The owner and runtime roles (db/database-roles.ts, `npm run db:roles`): what the app's restricted role can
 * and cannot do, that the owner migrates, that privileges reach tables created by later migrations, and the
 * start-up check that refuses a too-powerful runtime role. The harness already runs every integration file
 * as its own per-file runtime role (tests/helpers/integration-environment.ts); this file checks the limits.
 *
 * PGlite is a single-user database: roles do not apply there, which the one PGlite test below pins down.
 */
import { execFile } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { eq, sql } from "drizzle-orm";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { database, databaseHandle } from "@/db/client";
import { createDatabaseRoles, findRuntimeRoleProblems, grantRuntimePrivileges, scramSha256Verifier } from "@/db/database-roles";
import { applyMigrations } from "@/db/migrations";
import { auditEvents, ledgerEntries } from "@/db/schema";
import { databaseFailureOf, queryRows, sqlState } from "../helpers/database-queries";
import { useIntegrationEnvironment } from "../helpers/integration-environment";
import { createTestCustomer, openFundedAccount } from "../helpers/ledger-fixtures";

const integration = useIntegrationEnvironment();
const execFileAsync = promisify(execFile);
const repositoryRoot = path.resolve(import.meta.dirname, "../..");

/**
 * Starts server.ts in strict production with `databaseUrl`, from an empty folder (so no .env file is read),
 * and answers how it stopped. Every other setting is well-formed but points nowhere: the role check comes
 * right after the configuration, and the next step, reading the TLS certificate, fails on purpose, which
 * shows that the role check let the start go on.
 */
async function startProductionServer(databaseUrl: string): Promise<{ exitCode: number; stderr: string }> {
  const folder = integration().temporaryRoot;
  try {
    await execFileAsync(path.join(repositoryRoot, "node_modules/.bin/tsx"), [
      "--tsconfig",
      path.join(repositoryRoot, "tsconfig.json"),
      path.join(repositoryRoot, "server.ts"),
    ], {
      cwd: folder,
      timeout: 60_000,
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        NODE_ENV: "production",
        DATABASE_URL: databaseUrl,
        REDIS_URL: "redis://127.0.0.1:1",
        SMTP_URL: "smtp://127.0.0.1:1",
        APP_ORIGIN: "https://bank.example",
        AUTH_SECRET: "a".repeat(48),
        KEY_PROVIDER: "pkcs11",
        PKCS11_MODULE: path.join(folder, "no-such-module.so"),
        PKCS11_TOKEN_LABEL: "none",
        PKCS11_PIN: "0000",
        DATA_DIR: path.join(folder, "server-data"),
        TLS_CERT_PATH: path.join(folder, "no-such-cert.pem"),
        TLS_KEY_PATH: path.join(folder, "no-such-key.pem"),
      },
    });
    return { exitCode: 0, stderr: "" };
  } catch (error) {
    const failure = error as { code?: unknown; stderr?: unknown };
    return { exitCode: typeof failure.code === "number" ? failure.code : -1, stderr: String(failure.stderr ?? "") };
  }
}
const onPostgres = process.env.INTEGRATION_DATABASE === "postgres";

function connect(url: string | undefined) {
  if (!url) throw new Error("expected a PostgreSQL connection URL from the integration environment");
  return postgres(url, { max: 1, onnotice: () => undefined });
}

async function countRows(query: ReturnType<typeof sql>): Promise<number> {
  const [row] = await queryRows<{ total: string }>(query);
  return Number(row?.total);
}

it.runIf(!onPostgres)("has no roles on PGlite: migrations run over the one connection there is", async () => {
  const handle = databaseHandle();
  expect(handle.kind).toBe("pglite");
  expect(handle.migrationDatabaseUrl).toBeUndefined();
  await applyMigrations(handle);
  expect(await countRows(sql`select count(*)::text as total from audit_events`)).toBeGreaterThanOrEqual(0);
});

describe.runIf(onPostgres)("database roles on PostgreSQL", () => {
  let owner: postgres.Sql;
  let admin: postgres.Sql;
  let depositTransferId: string;

  beforeAll(async () => {
    // The handle is the runtime role's; applyMigrations reaches the database as the owner role.
    await applyMigrations(databaseHandle());
    owner = connect(integration().migrationDatabaseUrl);
    admin = connect(integration().adminDatabaseUrl);
    // The app's own code paths, as the runtime role: a customer, an account and a deposit (ledger entries
    // and an audit event, written by the ledger's SQL function, which runs with the caller's rights).
    const customer = await createTestCustomer("roles");
    const accountId = await openFundedAccount(customer, 12_345n);
    const [entry] = await database().select().from(ledgerEntries).where(eq(ledgerEntries.accountId, accountId));
    if (!entry) throw new Error("the deposit wrote no ledger entry");
    depositTransferId = entry.transferId;
  });

  afterAll(async () => {
    await owner?.end({ timeout: 5 });
    await admin?.end({ timeout: 5 });
  });

  it("runs the app as the runtime role, and migrations as the owner, who owns every table", async () => {
    const { runtimeRole, ownerRole } = integration();
    const [me] = await queryRows<{ role: string }>(sql`select current_user::text as role`);
    expect(me?.role).toBe(runtimeRole);
    const owners = await owner<{ owner: string }[]>`select distinct tableowner::text as owner from pg_tables where schemaname = 'public'`;
    expect(owners.map((row) => row.owner)).toEqual([ownerRole]);
    const [migrated] = await owner<{ total: string }[]>`select count(*)::text as total from drizzle.__drizzle_migrations`;
    expect(Number(migrated?.total)).toBeGreaterThan(0);
  });

  it("lets the runtime role write through the app: the deposit's entries and audit event are there", async () => {
    const entries = await database().select().from(ledgerEntries).where(eq(ledgerEntries.transferId, depositTransferId));
    expect(entries).toHaveLength(2);
    expect(await countRows(sql`select count(*)::text as total from audit_events`)).toBeGreaterThan(0);
  });

  it("refuses to let the runtime role disable or drop the append-only triggers", async () => {
    for (const statement of [
      sql`alter table audit_events disable trigger audit_events_append_only`,
      sql`alter table audit_events disable trigger all`,
      sql`alter table ledger_entries disable trigger ledger_entries_append_only`,
      sql`drop trigger audit_events_append_only on audit_events`,
      sql`drop trigger ledger_entries_append_only on ledger_entries`,
      sql`drop function refuse_change_to_history() cascade`,
      sql`set session_replication_role = replica`,
    ]) {
      const failure = await databaseFailureOf(database().execute(statement));
      expect(failure.code, failure.message).toBe(sqlState.insufficientPrivilege);
    }
    const triggers = await owner<{ name: string; enabled: string }[]>`
      select tgname::text as name, tgenabled::text as enabled from pg_trigger
       where tgname in ('audit_events_append_only', 'ledger_entries_append_only') order by 1`;
    expect(triggers).toEqual([
      { name: "audit_events_append_only", enabled: "O" },
      { name: "ledger_entries_append_only", enabled: "O" },
    ]);
  });

  it("refuses UPDATE, DELETE and TRUNCATE on audit_events and ledger_entries by privilege, before any trigger", async () => {
    const refusals = [
      database().update(auditEvents).set({ action: "rewritten" }).where(sql`true`),
      database().delete(auditEvents).where(sql`true`),
      database().execute(sql`truncate audit_events`),
      database().update(ledgerEntries).set({ amountMinor: 1n }).where(eq(ledgerEntries.transferId, depositTransferId)),
      database().delete(ledgerEntries).where(eq(ledgerEntries.transferId, depositTransferId)),
      database().execute(sql`truncate ledger_entries cascade`),
    ];
    for (const refusal of refusals) {
      const failure = await databaseFailureOf(refusal);
      expect(failure.code).toBe(sqlState.insufficientPrivilege);
      // "permission denied", not the trigger's "append-only": the table privileges stop it first.
      expect(failure.message).toMatch(/permission denied for table (audit_events|ledger_entries)/);
    }
    const entries = await database().select().from(ledgerEntries).where(eq(ledgerEntries.transferId, depositTransferId));
    expect(entries.map((entry) => entry.amountMinor).sort()).toEqual([-12_345n, 12_345n]);
  });

  it("keeps the trigger as the second wall: the owner may UPDATE by privilege and is still refused", async () => {
    const failure = await databaseFailureOf(owner`update audit_events set action = 'rewritten'`);
    expect(failure.code).toBe(sqlState.insufficientPrivilege);
    expect(failure.message).toContain("append-only");
  });

  it("refuses DDL to the runtime role", async () => {
    const { ownerRole } = integration();
    for (const statement of [
      sql`create table intruder (id integer)`,
      sql`create schema intruder`,
      sql`alter table users add column intruder text`,
      sql`drop table payees`,
      sql`create function intruder() returns integer language sql as 'select 1'`,
      sql`create trigger intruder before insert on users for each row execute function refuse_change_to_history()`,
      sql`set role ${sql.identifier(ownerRole ?? "")}`,
    ]) {
      const failure = await databaseFailureOf(database().execute(statement));
      expect(failure.code, failure.message).toBe(sqlState.insufficientPrivilege);
    }
  });

  it("gives tables of later migrations to the runtime role by default privileges, append-only ones as SELECT and INSERT", async () => {
    // What a later migration would do, as the owner: one ordinary table and one append-only table.
    await owner`create table later_ordinary (id integer primary key, note text)`;
    await owner`create table later_history (id integer primary key, note text)`;
    await owner`create trigger later_history_append_only before update or delete on later_history
                  for each row execute function refuse_change_to_history()`;
    await database().execute(sql`insert into later_ordinary values (1, 'a'), (2, 'b')`);
    await database().execute(sql`update later_ordinary set note = 'changed' where id = 1`);
    await database().execute(sql`delete from later_ordinary where id = 2`);
    expect(await countRows(sql`select count(*)::text as total from later_ordinary where note = 'changed'`)).toBe(1);

    // `db:migrate` ends by taking UPDATE and DELETE on append-only tables back from the runtime role.
    await applyMigrations(databaseHandle());
    await database().execute(sql`insert into later_history values (1, 'kept')`);
    const update = await databaseFailureOf(database().execute(sql`update later_history set note = 'rewritten'`));
    expect(update.message).toContain("permission denied for table later_history");
    const deletion = await databaseFailureOf(database().execute(sql`delete from later_history`));
    expect(deletion.message).toContain("permission denied for table later_history");
    expect(await countRows(sql`select count(*)::text as total from later_history where note = 'kept'`)).toBe(1);
  });

  it("finds nothing wrong with the runtime role, and refuses the owner and a superuser as the app's role", async () => {
    const { migrationDatabaseUrl, adminDatabaseUrl, ownerRole } = integration();
    expect(await findRuntimeRoleProblems(process.env.DATABASE_URL ?? "")).toEqual([]);
    const asOwner = await findRuntimeRoleProblems(migrationDatabaseUrl ?? "");
    expect(asOwner.join("\n")).toContain(`role ${ownerRole} owns`);
    expect(asOwner.join("\n")).toContain("audit_events");
    expect(asOwner.join("\n")).toContain("ledger_entries");
    const asAdmin = await findRuntimeRoleProblems(adminDatabaseUrl ?? "");
    expect(asAdmin.join("\n")).toContain("is a superuser");
  });

  it("refuses to start the production server as the owner or a superuser, and starts as the runtime role", async () => {
    const { migrationDatabaseUrl, adminDatabaseUrl, ownerRole } = integration();
    const asOwner = await startProductionServer(migrationDatabaseUrl ?? "");
    expect(asOwner.exitCode).toBe(1);
    expect(asOwner.stderr).toContain("DATABASE_URL must connect as the restricted runtime role");
    expect(asOwner.stderr).toContain(`role ${ownerRole} owns`);
    const asAdmin = await startProductionServer(adminDatabaseUrl ?? "");
    expect(asAdmin.stderr).toContain("is a superuser");
    const asRuntime = await startProductionServer(process.env.DATABASE_URL ?? "");
    expect(asRuntime.stderr).not.toContain("restricted runtime role");
    expect(asRuntime.stderr).toContain("Cannot read the TLS");
  });

  it("is idempotent and takes back powers granted by hand since", async () => {
    const { databaseName, ownerRole, runtimeRole } = integration();
    const adminUrl = integration().adminDatabaseUrl ?? "";
    await admin`alter role ${admin(runtimeRole ?? "")} createrole`;
    await admin`grant truncate on audit_events to ${admin(runtimeRole ?? "")}`;
    expect(await findRuntimeRoleProblems(process.env.DATABASE_URL ?? "")).toEqual([`role ${runtimeRole} has CREATEROLE`]);

    const outcome = await createDatabaseRoles(adminUrl, {
      databaseName: databaseName ?? "",
      ownerRole: ownerRole ?? "",
      runtimeRole: runtimeRole ?? "",
    });

    expect(outcome.createdRoles).toEqual([]);
    expect(outcome.databaseCreated).toBe(false);
    expect(outcome.appendOnlyTables).toEqual(expect.arrayContaining(["audit_events", "ledger_entries"]));
    expect(await findRuntimeRoleProblems(process.env.DATABASE_URL ?? "")).toEqual([]);
    const truncation = await databaseFailureOf(database().execute(sql`truncate audit_events`));
    expect(truncation.code).toBe(sqlState.insufficientPrivilege);
  });

  it("stores a given password as a SCRAM-SHA-256 verifier, never as the password itself", async () => {
    const { databaseName, ownerRole, runtimeRole } = integration();
    const password = "correct-horse-battery-staple-2026";
    await createDatabaseRoles(integration().adminDatabaseUrl ?? "", {
      databaseName: databaseName ?? "",
      ownerRole: ownerRole ?? "",
      runtimeRole: runtimeRole ?? "",
      runtimePassword: password,
    });
    const [stored] = await admin<{ verifier: string }[]>`select rolpassword as verifier from pg_authid where rolname = ${runtimeRole ?? ""}`;
    expect(stored?.verifier).toMatch(/^SCRAM-SHA-256\$4096:[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+$/);
    expect(stored?.verifier).not.toContain(password);
    expect(() => scramSha256Verifier("short")).toThrow(/16 to 256 printable ASCII/);
  });

  it("npm run db:roles sets the roles up from configuration, reads a password file and never prints the password", async () => {
    const { databaseName, ownerRole, runtimeRole, temporaryRoot } = integration();
    const password = "another-long-runtime-password-7";
    const passwordFile = path.join(temporaryRoot, "runtime-password");
    fs.writeFileSync(passwordFile, `${password}\n`, { mode: 0o600 });
    const runScript = (extraArguments: string[], environment: Record<string, string>) =>
      execFileAsync(
        path.join(repositoryRoot, "node_modules/.bin/tsx"),
        ["--tsconfig", path.join(repositoryRoot, "tsconfig.json"), path.join(repositoryRoot, "scripts/create-database-roles.ts"), ...extraArguments],
        // An empty folder as the working directory, so that no .env file of the checkout is read.
        { cwd: temporaryRoot, timeout: 60_000, env: { PATH: process.env.PATH, HOME: process.env.HOME, NODE_ENV: "development", ...environment } },
      );
    const { stdout } = await runScript(["--database", databaseName ?? ""], {
      DATABASE_ADMIN_URL: integration().adminDatabaseUrl ?? "",
      DATABASE_OWNER_ROLE: ownerRole ?? "",
      DATABASE_RUNTIME_ROLE: runtimeRole ?? "",
      DATABASE_RUNTIME_PASSWORD_FILE: passwordFile,
    });
    expect(stdout).toContain(`runtime role: ${runtimeRole}\n`);
    expect(stdout).toMatch(/append-only for the runtime role: [a-z_, ]*\baudit_events\b/);
    expect(stdout).not.toContain(password);
    const [stored] = await admin<{ verifier: string }[]>`select rolpassword as verifier from pg_authid where rolname = ${runtimeRole ?? ""}`;
    expect(stored?.verifier).toMatch(/^SCRAM-SHA-256\$/);

    const refused = await runScript([], { DATABASE_ADMIN_URL: integration().adminDatabaseUrl ?? "", DATABASE_RUNTIME_ROLE: "Bank App" }).catch(
      (error: unknown) => error as { code?: unknown; stderr?: unknown },
    );
    expect(refused).toMatchObject({ code: 2 });
    expect(String((refused as { stderr?: unknown }).stderr)).toContain("DATABASE_RUNTIME_ROLE");
  });

  it("refuses role and database names that are not plain lower-case identifiers, before connecting", async () => {
    const unreachable = "postgres://nobody@127.0.0.1:1/none";
    for (const plan of [
      { databaseName: "bank", ownerRole: "bank_owner", runtimeRole: 'bank_app"; drop table users; --' },
      { databaseName: "Bank", ownerRole: "bank_owner", runtimeRole: "bank_app" },
      { databaseName: "bank", ownerRole: "same", runtimeRole: "same" },
    ]) {
      await expect(createDatabaseRoles(unreachable, plan)).rejects.toThrow(/is not allowed|two different roles/);
    }
    await expect(grantRuntimePrivileges(owner, "bank app")).rejects.toThrow(/is not allowed/);
  });
});
