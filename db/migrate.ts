import "./load-environment";
import { closeDatabase, databaseHandle } from "@/db/client";
import { applyMigrations } from "@/db/migrations";

const handle = databaseHandle();
try {
  await applyMigrations(handle);
  process.stdout.write(`migrations applied (${handle.kind})\n`);
} finally {
  await closeDatabase();
}
