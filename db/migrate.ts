import "./load-environment";
import { closeDatabase, databaseHandle } from "@/db/client";
import { applyMigrations } from "@/db/migrations";
import { env } from "@/lib/env";

// In production the app's DATABASE_URL is the restricted runtime role, which may not create anything, so the
// owner role's connection must be named; elsewhere it defaults to DATABASE_URL (lib/env-schema.ts).
const configuration = env();
if (configuration.databaseUrl && !configuration.databaseRoles.migrationDatabaseUrl) {
  process.stderr.write(
    "MIGRATION_DATABASE_URL is required in production: migrations run as the owner role, the app's DATABASE_URL " +
      "is the restricted runtime role (README, Database roles).\n",
  );
  process.exit(1);
}

const handle = databaseHandle();
try {
  await applyMigrations(handle);
  process.stdout.write(`migrations applied (${handle.kind})\n`);
} finally {
  await closeDatabase();
}
