/**
 *   npm run audit:verify
 *
 * Walks the audit chain and its checkpoints (lib/audit/verify-audit-chain.ts) and prints either
 *   OK: <n> events sealed, chain head <hash>, <k> checkpoints verified; <m> recent events not sealed yet
 * and exits 0, or the first broken place, with its chain position and event sequence, and exits 1. Reads
 * only; needs the key provider for the checkpoint signatures.
 */
import "../db/load-environment";
import { closeDatabase, database } from "@/db/client";
import { verifyAuditChain } from "@/lib/audit/verify-audit-chain";

async function main(): Promise<number> {
  const result = await verifyAuditChain(database());
  if (result.ok) {
    process.stdout.write(
      `OK: ${String(result.sealedEvents)} events sealed, chain head ${result.headHash ?? "(empty chain)"}, ` +
        `${String(result.checkpointsVerified)} checkpoints verified; ` +
        `${String(result.unsealedEvents)} recent events not sealed yet\n`,
    );
    return 0;
  }
  process.stdout.write(
    `BROKEN at chain position ${result.chainPosition}` +
      (result.sequence === null ? "" : ` (event sequence ${result.sequence})`) +
      `: ${result.problem}: ${result.message}; ${String(result.unsealedEvents)} recent events not sealed yet\n`,
  );
  return 1;
}

try {
  process.exitCode = await main();
} catch (error) {
  process.stderr.write(`audit:verify failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 2;
} finally {
  await closeDatabase();
}
