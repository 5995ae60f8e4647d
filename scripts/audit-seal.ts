/**
 *   npm run audit:seal
 *
 * Seals every audit event that is final now (lib/audit/seal-audit-events.ts) and signs a checkpoint of the
 * new head, then exits. The running app does the same every AUDIT_SEAL_INTERVAL_SECONDS; this is for scripts,
 * tests and deployments that run the sealer as a separate process (AUDIT_SEAL_INTERVAL_SECONDS=0 in the app).
 * Safe to run next to a running app: only one sealer works at a time, the other returns "busy".
 */
import "../db/load-environment";
import { closeDatabase, database } from "@/db/client";
import { sealAuditEvents, writeAuditCheckpointIfDue } from "@/lib/audit/seal-audit-events";

async function main(): Promise<number> {
  const db = database();
  const result = await sealAuditEvents(db, { waitTimeoutMilliseconds: 60_000 });
  if (result.outcome === "busy") {
    process.stdout.write("another sealer is running (an app instance); nothing done here\n");
    return 0;
  }
  if (result.outcome === "waiting") {
    process.stderr.write("a transaction stayed open for a minute; nothing sealed, try again\n");
    return 1;
  }
  const checkpoint = await writeAuditCheckpointIfDue(db, "now");
  process.stdout.write(
    `${String(result.sealedEvents)} events sealed; chain head ${result.headPosition?.toString() ?? "0"} ` +
      `${result.headHash ?? "(empty chain)"}` +
      (checkpoint === null ? "\n" : `; checkpoint signed at position ${checkpoint.toString()}\n`),
  );
  return 0;
}

try {
  process.exitCode = await main();
} catch (error) {
  process.stderr.write(`audit:seal failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
} finally {
  await closeDatabase();
}
