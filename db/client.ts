import "server-only";
import fs from "node:fs";
import path from "node:path";
import { PGlite } from "@electric-sql/pglite";
import type { PgDatabase, PgQueryResultHKT } from "drizzle-orm/pg-core";
import type { SQL } from "drizzle-orm";
import { drizzle as drizzlePglite } from "drizzle-orm/pglite";
import { drizzle as drizzlePostgres } from "drizzle-orm/postgres-js";
import { connectPostgres } from "@/db/postgres-connection";
import { env } from "@/lib/env";
import { registerShutdownHook } from "@/lib/shutdown-hooks";
import * as schema from "@/db/schema";

/** The one database type the data layer sees, whichever driver is behind it. */
export type Database = PgDatabase<PgQueryResultHKT, typeof schema>;
/** A transaction handle; `recordAuditEvent` and the ledger write through it. */
export type Transaction = Parameters<Parameters<Database["transaction"]>[0]>[0];
/** Anything that can run a query: the database itself or an open transaction. */
export type Queryable = Database | Transaction;

export type DatabaseKind = "postgres" | "pglite";

/** A value bound to a prepared statement's placeholder; bigints travel as text and are cast in the statement. */
export type StatementParameter = string | number | boolean | null;

export interface DatabaseHandle {
  readonly kind: DatabaseKind;
  readonly db: Database;
  /**
   * Runs one statement as a server-side prepared statement, outside any transaction, and answers its rows.
   * Drizzle sends every query unprepared (postgres.js's `unsafe` without `prepare`), so PostgreSQL parses and
   * plans it again each time; the ledger's one-call posting is about a fifth slower that way (README,
   * Benchmark). `text` must be a constant with `$n` placeholders, never built from values.
   */
  queryPrepared<Row extends Record<string, unknown>>(text: string, parameters: readonly StatementParameter[]): Promise<Row[]>;
  close(): Promise<void>;
  /**
   * PostgreSQL only: the connection `applyMigrations` uses, as the owner role (db/database-roles.ts), while
   * the handle itself may be the app's restricted runtime role. Undefined on PGlite, which has no roles.
   */
  readonly migrationDatabaseUrl: string | undefined;
}

export interface DatabaseLocation {
  databaseUrl: string | undefined;
  /** PostgreSQL only: the owner role's connection for migrations; defaults to `databaseUrl`. */
  migrationDatabaseUrl?: string | undefined;
  pgliteDirectory: string;
  /** Connection pool size for PostgreSQL; scripts use 1. */
  maxConnections?: number;
  /**
   * PostgreSQL only: close a connection after this many idle seconds (default: never). An open connection
   * keeps a Node process alive, so a pool that its owner never closes explicitly (the PKCS#11 key provider's)
   * sets this to let scripts exit.
   */
  idleTimeoutSeconds?: number;
}

/**
 * PGlite does not lock its folder, and two processes writing one folder corrupt it (STACK-NOTES trap 6).
 * A lock file next to the folder, created exclusively and naming the owning process, makes the second
 * opener fail with a clear sentence instead. A lock left by a process that has died is taken over.
 */
function acquirePgliteLock(directory: string): () => void {
  const lockPath = `${directory}.lock`;
  fs.mkdirSync(path.dirname(lockPath), { recursive: true, mode: 0o700 });
  for (let attempt = 0; attempt < 2; attempt += 1) {
    try {
      const descriptor = fs.openSync(lockPath, "wx", 0o600);
      fs.writeSync(descriptor, String(process.pid));
      fs.closeSync(descriptor);
      let released = false;
      const release = () => {
        if (released) return;
        released = true;
        // A process that opens and closes folders repeatedly (backups, tests) must not pile up exit listeners.
        process.removeListener("exit", release);
        try {
          if (fs.readFileSync(lockPath, "utf8") === String(process.pid)) fs.unlinkSync(lockPath);
        } catch {
          // The lock file is already gone: nothing left to release.
        }
      };
      process.once("exit", release);
      return release;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      const ownerProcessId = Number.parseInt(fs.readFileSync(lockPath, "utf8"), 10);
      if (Number.isInteger(ownerProcessId) && ownerProcessId !== process.pid && isProcessAlive(ownerProcessId)) {
        throw new Error(
          `The embedded database at ${directory} is already open in process ${ownerProcessId}. ` +
            "Stop that process first (two processes must never open one PGlite folder).",
        );
      }
      // The owner is gone (or it is us after a hot reload): remove the stale lock and try once more.
      fs.rmSync(lockPath, { force: true });
    }
  }
  throw new Error(`Could not lock the embedded database at ${directory}.`);
}

function isProcessAlive(processId: number): boolean {
  try {
    process.kill(processId, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Opens a database: PostgreSQL through postgres.js when a URL is given, otherwise PGlite in a folder. */
export function openDatabase(location: DatabaseLocation): DatabaseHandle {
  if (location.databaseUrl) {
    // TLS as the URL asks (sslmode, sslrootcert: db/postgres-connection.ts); production insists on verify-full.
    const client = connectPostgres(location.databaseUrl, {
      max: location.maxConnections ?? 10,
      ...(location.idleTimeoutSeconds === undefined ? {} : { idle_timeout: location.idleTimeoutSeconds }),
    });
    const db = drizzlePostgres({ client, schema }) as unknown as Database;
    return {
      kind: "postgres",
      db,
      // postgres.js names and caches the statement per connection on first use, then only binds and executes.
      queryPrepared: async <Row extends Record<string, unknown>>(text: string, parameters: readonly StatementParameter[]) =>
        Array.from(await client.unsafe<Row[]>(text, [...parameters], { prepare: true })),
      close: () => client.end({ timeout: 5 }),
      migrationDatabaseUrl: location.migrationDatabaseUrl ?? location.databaseUrl,
    };
  }
  const inMemory = location.pgliteDirectory.startsWith("memory://");
  const releaseLock = inMemory ? () => undefined : acquirePgliteLock(location.pgliteDirectory);
  if (!inMemory) createOwnerOnlyDirectory(location.pgliteDirectory);
  const client = new PGlite(location.pgliteDirectory);
  // Both drivers produce a PgDatabase over the same schema; only their query-result type parameter differs,
  // and the data layer never looks at driver-specific results.
  const db = drizzlePglite({ client, schema }) as unknown as Database;
  return {
    kind: "pglite",
    db,
    // PGlite runs in this process: there is no round trip to save, so a plain parameterised query does.
    queryPrepared: async <Row extends Record<string, unknown>>(text: string, parameters: readonly StatementParameter[]) =>
      (await client.query<Row>(text, [...parameters])).rows,
    close: async () => {
      await client.close();
      releaseLock();
    },
    migrationDatabaseUrl: undefined,
  };
}

// One handle per process, kept on globalThis so that `next dev`'s hot reload does not open a second PGlite
// on the same folder (STACK-NOTES trap 26). The function that removes its shutdown hook lives beside it, so
// that closeDatabase() (scripts, tests) does not leave a hook behind that would close the handle a second time.
const globalForDatabase = globalThis as typeof globalThis & {
  bankDatabaseHandle?: DatabaseHandle;
  bankDatabaseShutdownHookRemoval?: () => void;
};

export function databaseHandle(): DatabaseHandle {
  if (!globalForDatabase.bankDatabaseHandle) {
    const configuration = env();
    const handle = openDatabase({
      databaseUrl: configuration.databaseUrl,
      migrationDatabaseUrl: configuration.databaseRoles.migrationDatabaseUrl,
      pgliteDirectory: configuration.pgliteDirectory,
    });
    globalForDatabase.bankDatabaseHandle = handle;
    // At shutdown the handle is closed but stays in place: a query that still arrives afterwards fails,
    // rather than quietly opening a new pool in a process that is about to exit. PGlite is closed too, so
    // that the embedded database is written out cleanly instead of being cut off by the exit.
    globalForDatabase.bankDatabaseShutdownHookRemoval = registerShutdownHook(
      handle.kind === "postgres" ? "database pool" : "embedded database",
      "close-connections",
      () => handle.close(),
    );
  }
  return globalForDatabase.bankDatabaseHandle;
}

/** The process-wide database. Only `lib/` data-layer code calls this. */
export function database(): Database {
  return databaseHandle().db;
}

/** Closes the process-wide database, if one was opened (scripts and tests call this before exiting). */
export async function closeDatabase(): Promise<void> {
  const handle = globalForDatabase.bankDatabaseHandle;
  globalForDatabase.bankDatabaseHandle = undefined;
  globalForDatabase.bankDatabaseShutdownHookRemoval?.();
  globalForDatabase.bankDatabaseShutdownHookRemoval = undefined;
  if (handle) await handle.close();
}

/**
 * The rows of a raw `execute`: postgres.js answers with an array of rows, PGlite with `{ rows }`. Used for
 * calls to the ledger's SQL functions, whose result columns are described by the caller's type.
 */
export async function executeRows<Row extends Record<string, unknown>>(queryable: Queryable, query: SQL): Promise<Row[]> {
  const result: unknown = await queryable.execute(query);
  const rows: unknown = Array.isArray(result) ? result : (result as { rows?: unknown }).rows;
  if (!Array.isArray(rows)) throw new Error("database returned no rows array");
  return rows as Row[];
}

/**
 * Creates `directory` (and missing parents) readable by its owner only, and tightens it to 0700 if it already
 * existed: the PGlite folder holds the whole database, and a folder made earlier under a looser umask (or by
 * an older version) must not stay readable by other users. `mode` on mkdir applies only to folders it
 * creates, and only after the umask, hence the explicit chmod.
 */
function createOwnerOnlyDirectory(directory: string): void {
  fs.mkdirSync(directory, { recursive: true, mode: 0o700 });
  fs.chmodSync(directory, 0o700);
}

/** A PGlite client opened directly, for the encrypted backup and restore of the embedded database (lib/backup). */
export interface MaintenancePglite {
  readonly client: PGlite;
  close(): Promise<void>;
}

/**
 * Opens the PGlite folder with the same lock as the app, so that a backup or restore fails with a clear
 * sentence while the app (or anything else) has the folder open, instead of reading a database that is
 * changing underneath or corrupting it. With `loadDataDir`, a new database is created in the folder from that
 * data-directory tarball (a restore); the folder must then be missing or empty, which the caller checks.
 */
export async function openPgliteForMaintenance(directory: string, loadDataDir?: Blob): Promise<MaintenancePglite> {
  const releaseLock = acquirePgliteLock(directory);
  try {
    createOwnerOnlyDirectory(directory);
    const client = await PGlite.create(directory, loadDataDir === undefined ? {} : { loadDataDir });
    return {
      client,
      close: async () => {
        try {
          await client.close();
        } finally {
          releaseLock();
        }
      },
    };
  } catch (error) {
    releaseLock();
    throw error;
  }
}
