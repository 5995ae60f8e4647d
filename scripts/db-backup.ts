/**
 *   npm run db:backup -- <file>     encrypted backup of the configured database (DATABASE_URL, or the embedded
 *                                   PGlite in $DATA_DIR/pglite, which must not be open: stop the app first)
 *   npm run db:verify -- <file>     checks every record of a backup with the configured keys; writes nothing
 *   npm run db:restore -- <file>    verifies the whole backup, then restores it into the configured database,
 *                                   which must be empty (a new database, or a missing or empty PGlite folder)
 *
 * The backup's file key is wrapped by the configured key provider (the token's key-encryption key with
 * KEY_PROVIDER=pkcs11, the keyring's backup key otherwise), so a backup restores only where those keys are.
 * Format and guarantees: lib/backup/backup-format.ts; README, Data protection, Backups. Prints sizes and
 * counts, never data or key material.
 */
import "../db/load-environment";
import { closeDatabase } from "@/db/client";
import { backupDatabase, restoreDatabase, verifyDatabaseBackup, type DatabaseLocationForBackup } from "@/scripts/database-backup";
import { backupKeyWrapping } from "@/lib/crypto";
import { env } from "@/lib/env";

const usage = "usage: npm run db:backup -- <file> | npm run db:verify -- <file> | npm run db:restore -- <file>";

function configuredLocation(): DatabaseLocationForBackup {
  const configuration = env();
  // The owner role's connection (MIGRATION_DATABASE_URL), not the app's: the restricted runtime role may not
  // read drizzle's bookkeeping schema for pg_dump, and may not create the tables a restore makes; tables a
  // restore creates are then owned by the owner role, as after a migration.
  const databaseUrl = configuration.databaseRoles.migrationDatabaseUrl ?? configuration.databaseUrl;
  return databaseUrl ? { kind: "postgres", databaseUrl } : { kind: "pglite", directory: configuration.pgliteDirectory };
}

function describeLocation(location: DatabaseLocationForBackup): string {
  if (location.kind === "pglite") return `the embedded database in ${location.directory}`;
  const url = new URL(location.databaseUrl);
  return `PostgreSQL database ${url.pathname.slice(1)} on ${url.host}`;
}

async function main(argumentsAfterScript: readonly string[]): Promise<number> {
  const [mode, file, ...rest] = argumentsAfterScript;
  if (file === undefined || file.length === 0 || rest.length > 0) {
    process.stderr.write(`${usage}\n`);
    return 2;
  }
  const keys = backupKeyWrapping();
  switch (mode) {
    case "backup": {
      const source = configuredLocation();
      const summary = await backupDatabase({ source, destination: file, keys });
      process.stdout.write(
        `Backed up ${describeLocation(source)} to ${file} (mode 0600): ${String(summary.plaintextBytes)} bytes of ` +
          `${summary.header.sourceKind} in ${String(summary.chunkCount)} encrypted chunks, file key wrapped by ` +
          `${summary.header.wrappedFileKey.provider} key "${summary.header.wrappedFileKey.keyLabel}".\n`,
      );
      return 0;
    }
    case "verify": {
      const verified = await verifyDatabaseBackup(file, keys);
      process.stdout.write(
        `OK: ${file} is complete and unaltered (${verified.header.sourceKind}, made ${verified.header.createdAt}, ` +
          `${String(verified.chunkCount)} chunks, ${String(verified.plaintextBytes)} bytes).\n`,
      );
      return 0;
    }
    case "restore": {
      const target = configuredLocation();
      const verified = await restoreDatabase({ target, backupFile: file, keys });
      // The plain dump carries no owners or grants (pg_dump --no-owner --no-privileges), so that it restores
      // into a server whose roles differ; `npm run db:roles` gives the runtime role its privileges on the
      // restored tables (and takes UPDATE and DELETE on append-only ones away) as for a new installation.
      const next =
        target.kind === "postgres" ? " Run `npm run db:roles` before starting the app: it grants the runtime role its privileges on the restored tables." : "";
      process.stdout.write(`Restored ${file} (made ${verified.header.createdAt}) into ${describeLocation(target)}.${next}\n`);
      return 0;
    }
    default:
      process.stderr.write(`${usage}\n`);
      return 2;
  }
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (error) {
  // These messages name files, keys by label, sizes and tool errors, never data or key material.
  process.stderr.write(`db:${process.argv[2] ?? "backup"} failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
} finally {
  await closeDatabase();
}
