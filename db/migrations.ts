import "server-only";
import path from "node:path";
import { migrate as migratePglite } from "drizzle-orm/pglite/migrator";
import type { PgliteDatabase } from "drizzle-orm/pglite";
import { migrate as migratePostgres } from "drizzle-orm/postgres-js/migrator";
import type { PostgresJsDatabase } from "drizzle-orm/postgres-js";
import type { DatabaseHandle } from "@/db/client";
import { installLedgerDatabaseFunctions } from "@/lib/ledger/database-functions";

const migrationsFolder = path.resolve(import.meta.dirname, "..", "drizzle");

/**
 * Applies every migration in drizzle/ that the database has not seen yet, in one run per driver, then
 * replaces the ledger's SQL functions with their definitions in lib/ledger (the one place the posting rules
 * live) and makes sure the bank's system accounts exist.
 */
export async function applyMigrations(handle: DatabaseHandle): Promise<void> {
  // Each migrator is typed for its own driver; the handle knows which driver it holds.
  if (handle.kind === "postgres") {
    await migratePostgres(handle.db as unknown as PostgresJsDatabase, { migrationsFolder });
  } else {
    await migratePglite(handle.db as unknown as PgliteDatabase, { migrationsFolder });
  }
  await installLedgerDatabaseFunctions(handle);
}
