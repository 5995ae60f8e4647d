import "server-only";
import path from "node:path";
import { migrate as migratePglite } from "drizzle-orm/pglite/migrator";
import type { PgliteDatabase } from "drizzle-orm/pglite";
import { migrate as migratePostgres } from "drizzle-orm/postgres-js/migrator";
import type { PostgresJsDatabase } from "drizzle-orm/postgres-js";
import { connectPostgres } from "@/db/postgres-connection";
import { openDatabase, type DatabaseHandle } from "@/db/client";
import { grantRuntimePrivileges } from "@/db/database-roles";
import { env } from "@/lib/env";
import { installLedgerDatabaseFunctions } from "@/lib/ledger/database-functions";

const migrationsFolder = path.resolve(import.meta.dirname, "..", "drizzle");

/**
 * Applies every migration in drizzle/ that the database has not seen yet, in one run per driver, then
 * replaces the ledger's SQL functions with their definitions in lib/ledger (the one place the posting rules
 * live) and makes sure the bank's system accounts exist.
 *
 * On PostgreSQL all of it runs over the handle's migration connection (the owner role's,
 * MIGRATION_DATABASE_URL), never over the app's restricted runtime role, which may not create anything; the
 * handle's own pool is left untouched. Afterwards the configured runtime role, if it exists and is not the
 * role that migrated, gets its privileges on the new objects and loses UPDATE and DELETE on append-only ones
 * (db/database-roles.ts `grantRuntimePrivileges`).
 */
export async function applyMigrations(handle: DatabaseHandle): Promise<void> {
  if (handle.kind === "pglite") {
    await migratePglite(handle.db as unknown as PgliteDatabase, { migrationsFolder });
    await installLedgerDatabaseFunctions(handle);
    return;
  }
  const migrationDatabaseUrl = handle.migrationDatabaseUrl;
  if (!migrationDatabaseUrl) throw new Error("a PostgreSQL handle always has a migration connection");
  const owner = openDatabase({ databaseUrl: migrationDatabaseUrl, pgliteDirectory: "unused", maxConnections: 1 });
  try {
    await migratePostgres(owner.db as unknown as PostgresJsDatabase, { migrationsFolder });
    await installLedgerDatabaseFunctions(owner);
  } finally {
    await owner.close();
  }
  await grantToRuntimeRole(migrationDatabaseUrl, env().databaseRoles.runtimeRole);
}

async function grantToRuntimeRole(migrationDatabaseUrl: string, runtimeRole: string): Promise<void> {
  const sql = connectPostgres(migrationDatabaseUrl, { max: 1 });
  try {
    const [row] = await sql<{ exists: boolean; is_current: boolean }[]>`
      select exists (select 1 from pg_roles where rolname = ${runtimeRole}) as exists, current_user = ${runtimeRole} as is_current`;
    // A developer with one superuser URL and no roles set up has no runtime role to grant to; and a runtime
    // role that migrates (misconfigured) has nothing to grant to itself.
    if (!row?.exists || row.is_current) return;
    await grantRuntimePrivileges(sql, runtimeRole);
  } finally {
    await sql.end({ timeout: 5 });
  }
}
