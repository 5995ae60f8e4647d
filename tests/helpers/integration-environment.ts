/**
 * A fresh, private database and configuration for one integration test file.
 *
 * The application reads its configuration once per process (`env()` is memoised) and keeps one database
 * handle on globalThis, so everything here must happen before the first application call and cannot be
 * changed afterwards. That is safe because Vitest runs every file of an isolated project (the default,
 * `isolate: true`) in a new worker process; `useIntegrationEnvironment` refuses to run if it finds a handle
 * already open, which is what a reused worker (`--no-isolate`) would look like.
 *
 * Per file it creates:
 * - a temporary folder under os.tmpdir() holding DATA_DIR (demo credentials, and PGlite's files for the
 *   pglite project) and a freshly generated keyring (KEYRING_PATH);
 * - for the postgres project, a new database `<run prefix>_<random>` created from template0 on the server
 *   named by the global setup (tests/helpers/postgres-global-setup.ts), dropped WITH (FORCE) in afterAll,
 *   and two roles of its own made by the same code as `npm run db:roles` (db/database-roles.ts):
 *   `<database>_owner`, which owns the database and runs the migrations (MIGRATION_DATABASE_URL), and
 *   `<database>_app`, the restricted runtime role the application connects as (DATABASE_URL). So every
 *   integration file proves that the app works without DDL or trigger rights. Roles are cluster-wide: they
 *   are dropped in afterAll after the database, and the global teardown drops any a crashed file left;
 * - a random 48-character AUTH_SECRET.
 * Variables that would point the application elsewhere (DATABASE_URL, REDIS_URL, KEY_PROVIDER, SMTP_URL, ...)
 * are removed first, so a developer's shell can never aim these tests at a real database, a real mail server
 * or `.data/`.
 */
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import postgres from "postgres";
import { afterAll, beforeAll, inject } from "vitest";
import { closeDatabase, databaseHandle, type DatabaseKind } from "@/db/client";
import { createDatabaseRoles, dropDatabaseRoles } from "@/db/database-roles";
import { createKeyringFile } from "@/lib/crypto/keyring-format";

export interface IntegrationEnvironment {
  kind: DatabaseKind;
  /** The temporary folder holding everything this file created on disk. */
  temporaryRoot: string;
  dataDirectory: string;
  keyringPath: string;
  /** The PostgreSQL database of this file (postgres project only). */
  databaseName: string | undefined;
  /**
   * Postgres project only: this file's database as the administrative (superuser) role, for tests that must
   * do what neither the app nor the owner may (disable a trigger on purpose, read another role's rights).
   */
  adminDatabaseUrl: string | undefined;
  /** Postgres project only: this file's database as its owner role (what migrations connect as). */
  migrationDatabaseUrl: string | undefined;
  ownerRole: string | undefined;
  runtimeRole: string | undefined;
}

const variablesToClear = [
  "DATABASE_URL",
  "MIGRATION_DATABASE_URL",
  "DATABASE_ADMIN_URL",
  "DATABASE_OWNER_ROLE",
  "DATABASE_RUNTIME_ROLE",
  "DATABASE_OWNER_PASSWORD",
  "DATABASE_OWNER_PASSWORD_FILE",
  "DATABASE_RUNTIME_PASSWORD",
  "DATABASE_RUNTIME_PASSWORD_FILE",
  "REDIS_URL",
  "DATA_DIR",
  "KEYRING_PATH",
  "KEY_PROVIDER",
  "PKCS11_MODULE",
  "PKCS11_TOKEN_LABEL",
  "PKCS11_PIN",
  "PKCS11_PIN_FILE",
  "PKCS11_KEK_LABEL",
  "PKCS11_PEPPER_LABEL",
  "PKCS11_AUDIT_KEY_LABEL",
  "AUDIT_SEAL_INTERVAL_SECONDS",
  "SOFTHSM2_CONF",
  "ALLOW_EMBEDDED",
  "AUTH_SECRET",
  "SMTP_URL",
  "MAIL_FROM",
] as const;

function requestedKind(): DatabaseKind {
  const kind = process.env.INTEGRATION_DATABASE;
  if (kind !== "postgres" && kind !== "pglite") {
    throw new Error(
      `INTEGRATION_DATABASE must be "postgres" or "pglite" (got ${String(kind)}); run the integration-postgres ` +
        "or integration-pglite project rather than the files on their own",
    );
  }
  return kind;
}

function adminClient(url: string) {
  return postgres(url, { max: 1, onnotice: () => undefined, connect_timeout: 10 });
}

interface PostgresDatabase {
  name: string;
  adminUrl: string;
  adminDatabaseUrl: string;
  ownerRole: string;
  runtimeRole: string;
  ownerUrl: string;
  runtimeUrl: string;
}

function urlFor(adminUrl: string, databaseName: string, role?: string): string {
  const url = new URL(adminUrl);
  url.pathname = `/${databaseName}`;
  // The shared test server trusts local connections, so the per-file roles need no password.
  if (role !== undefined) {
    url.username = role;
    url.password = "";
  }
  return url.toString();
}

async function createPostgresDatabase(): Promise<PostgresDatabase> {
  const adminUrl = inject("postgresAdminUrl");
  const runPrefix = inject("postgresRunPrefix");
  if (!adminUrl || !runPrefix) {
    throw new Error("the postgres global setup did not run (tests/helpers/postgres-global-setup.ts)");
  }
  const name = `${runPrefix}_${crypto.randomBytes(4).toString("hex")}`;
  const ownerRole = `${name}_owner`;
  const runtimeRole = `${name}_app`;
  if (!/^bank_it_[0-9a-z_]+$/.test(name) || ownerRole.length > 63) throw new Error(`unexpected database name ${name}`);
  // Creates both roles and the database (from template0, owned by the owner role), as `npm run db:roles` does.
  await createDatabaseRoles(adminUrl, { databaseName: name, ownerRole, runtimeRole });
  return {
    name,
    adminUrl,
    adminDatabaseUrl: urlFor(adminUrl, name),
    ownerRole,
    runtimeRole,
    ownerUrl: urlFor(adminUrl, name, ownerRole),
    runtimeUrl: urlFor(adminUrl, name, runtimeRole),
  };
}

async function dropPostgresDatabase(created: PostgresDatabase): Promise<void> {
  const sql = adminClient(created.adminUrl);
  try {
    await sql`drop database if exists ${sql(created.name)} with (force)`;
  } finally {
    await sql.end({ timeout: 5 });
  }
  await dropDatabaseRoles(created.adminUrl, [created.runtimeRole, created.ownerRole]);
}

export interface IntegrationOptions {
  /**
   * Postgres project only: which of the file's roles `database()` connects as. "runtime" (the default) is the
   * app's restricted role; "owner" is for files that test the schema itself (its triggers must be reached
   * through a role the table privileges do not already stop).
   */
  connectAs?: "runtime" | "owner";
}

/**
 * Registers beforeAll/afterAll hooks that give this test file its own configuration and empty database, and
 * returns a getter for the details. Call it once, at the top level of the test file, before any other hook.
 */
export function useIntegrationEnvironment(options: IntegrationOptions = {}): () => IntegrationEnvironment {
  let environment: IntegrationEnvironment | undefined;
  let dropDatabase: (() => Promise<void>) | undefined;

  beforeAll(async () => {
    const globalForDatabase = globalThis as { bankDatabaseHandle?: unknown };
    if (globalForDatabase.bankDatabaseHandle !== undefined) {
      throw new Error(
        "a database handle is already open in this worker: integration test files need isolated workers " +
          "(do not run them with --no-isolate)",
      );
    }
    if (process.env.NODE_ENV !== "test") throw new Error(`NODE_ENV must be "test", not ${process.env.NODE_ENV}`);
    const kind = requestedKind();

    for (const name of variablesToClear) Reflect.deleteProperty(process.env, name);

    const temporaryRoot = fs.mkdtempSync(path.join(os.tmpdir(), `bank-it-${kind}-`));
    const dataDirectory = path.join(temporaryRoot, "data");
    const keyringPath = path.join(temporaryRoot, "keys", "keyring.json");
    if ((await createKeyringFile(keyringPath)) !== "created") throw new Error("expected a brand-new keyring");

    let created: PostgresDatabase | undefined;
    if (kind === "postgres") {
      const database = await createPostgresDatabase();
      created = database;
      dropDatabase = () => dropPostgresDatabase(database);
      process.env.DATABASE_URL = options.connectAs === "owner" ? database.ownerUrl : database.runtimeUrl;
      process.env.MIGRATION_DATABASE_URL = database.ownerUrl;
      process.env.DATABASE_OWNER_ROLE = database.ownerRole;
      process.env.DATABASE_RUNTIME_ROLE = database.runtimeRole;
    }
    process.env.DATA_DIR = dataDirectory;
    process.env.KEYRING_PATH = keyringPath;
    process.env.KEY_PROVIDER = "local";
    process.env.AUTH_SECRET = crypto.randomBytes(36).toString("base64url");

    environment = {
      kind,
      temporaryRoot,
      dataDirectory,
      keyringPath,
      databaseName: created?.name,
      adminDatabaseUrl: created?.adminDatabaseUrl,
      migrationDatabaseUrl: created?.ownerUrl,
      ownerRole: created?.ownerRole,
      runtimeRole: created?.runtimeRole,
    };

    // Opening the handle here also proves that the configuration resolved to the intended database.
    const handle = databaseHandle();
    if (handle.kind !== kind) throw new Error(`expected a ${kind} handle, got ${handle.kind}`);
  });

  afterAll(async () => {
    try {
      await closeDatabase();
    } finally {
      try {
        await dropDatabase?.();
      } finally {
        if (environment) fs.rmSync(environment.temporaryRoot, { recursive: true, force: true });
      }
    }
  });

  return () => {
    if (!environment) throw new Error("the integration environment is not set up yet (use it inside hooks or tests)");
    return environment;
  };
}
