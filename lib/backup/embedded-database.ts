import "server-only";
/**
 * The database side of backups that runs inside the app's own code rules (no child processes): the embedded
 * PGlite's data-directory dump and restore, and the emptiness checks of a restore target. The PostgreSQL
 * client tools (pg_dump, psql) are started by the backup tool itself (scripts/database-backup.ts), outside
 * application code.
 */
import fs from "node:fs";
import path from "node:path";
import { connectPostgres } from "@/db/postgres-connection";
import { openPgliteForMaintenance } from "@/db/client";
import { BankError } from "@/lib/errors";

/**
 * PGlite's own data-directory tarball of a folder that nothing else has open (the app's lock file makes this
 * fail with a sentence naming the process that has it open). PGlite builds the tarball in memory, about the
 * size of the local database; it is then handed on in pieces, to be encrypted as a stream.
 */
export async function* pgliteDataDirectoryDump(directory: string): AsyncGenerator<Uint8Array> {
  if (!fs.existsSync(path.join(directory, "PG_VERSION"))) {
    throw new BankError("invalid_input", { internalMessage: `${directory} holds no embedded database to back up` });
  }
  const opened = await openPgliteForMaintenance(directory);
  let dump: Blob;
  try {
    dump = await opened.client.dumpDataDir("gzip");
  } finally {
    await opened.close();
  }
  const reader = dump.stream().getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return;
    yield value;
  }
}

/**
 * Creates the embedded database in `directory` from a verified data-directory tarball. The folder must be
 * missing or empty (checked again here); a failure removes what this call created.
 */
export async function restorePgliteDataDirectory(directory: string, tarball: Blob): Promise<void> {
  assertPgliteDirectoryEmpty(directory);
  const existedBefore = fs.existsSync(directory);
  try {
    const restored = await openPgliteForMaintenance(directory, tarball);
    try {
      // One query proves that PostgreSQL started on the restored files.
      await restored.client.query("select 1");
    } finally {
      await restored.close();
    }
  } catch (error) {
    // The folder was missing or empty a moment ago, so everything in it now is this call's half-made database:
    // removing it lets the operator simply run the restore again.
    if (existedBefore) {
      for (const entry of fs.readdirSync(directory)) fs.rmSync(path.join(directory, entry), { recursive: true, force: true });
    } else {
      fs.rmSync(directory, { recursive: true, force: true });
    }
    throw error;
  }
}

export function assertPgliteDirectoryEmpty(directory: string): void {
  let entries: string[];
  try {
    entries = fs.readdirSync(directory);
  } catch (error) {
    if (error instanceof Error && "code" in error && error.code === "ENOENT") return;
    throw error;
  }
  if (entries.length > 0) {
    throw new BankError("conflict", {
      internalMessage: `the embedded database folder ${directory} is not empty; restore only into a missing or empty folder`,
    });
  }
}

/**
 * Refuses a database that has anything of its own: relations (tables, views, sequences) or functions outside
 * the system schemas, or any schema besides `public`. A fresh `createdb` (from template0 or a clean template1)
 * passes; a database that has been migrated or restored into does not.
 */
export async function assertPostgresDatabaseEmpty(databaseUrl: string): Promise<void> {
  const sql = connectPostgres(databaseUrl, { max: 1 });
  try {
    const [counts] = await sql<{ relations: number; functions: number; schemas: number }[]>`
      select
        (select count(*)::int from pg_class c join pg_namespace n on n.oid = c.relnamespace
          where n.nspname not in ('pg_catalog', 'information_schema') and left(n.nspname, 3) <> 'pg_') as relations,
        (select count(*)::int from pg_proc p join pg_namespace n on n.oid = p.pronamespace
          where n.nspname not in ('pg_catalog', 'information_schema') and left(n.nspname, 3) <> 'pg_') as functions,
        (select count(*)::int from pg_namespace n
          where n.nspname not in ('public', 'pg_catalog', 'information_schema') and left(n.nspname, 3) <> 'pg_') as schemas`;
    if (counts === undefined) throw new BankError("internal", { internalMessage: "the emptiness check returned no row" });
    if (counts.relations > 0 || counts.functions > 0 || counts.schemas > 0) {
      throw new BankError("conflict", {
        internalMessage:
          `the target database is not empty (${String(counts.relations)} tables, views or sequences, ` +
          `${String(counts.functions)} functions, ${String(counts.schemas)} extra schemas); restore only into a ` +
          "new, empty database (createdb), never over existing data",
      });
    }
  } finally {
    await sql.end({ timeout: 5 });
  }
}
