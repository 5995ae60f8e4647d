/**
 *   npm run keys:rotate -- <pii|mfa|memo|all>
 *
 * Makes a new version of the purpose's data key (or of every purpose's) current for new writes, through the
 * configured key provider, and records it in the audit trail. Old versions are kept: existing values keep
 * decrypting until `npm run keys:reencrypt` rewrites them. Running app instances switch to the new version
 * within KEY_REFRESH_SECONDS. Prints versions only, never key material.
 */
import "../db/load-environment";
import { closeDatabase } from "@/db/client";
import { dataKeyPurposes, isDataKeyPurpose, type DataKeyPurpose } from "@/lib/crypto/key-provider";
import { rotateDataKeys } from "@/lib/crypto/rotate-data-keys";
import { env } from "@/lib/env";

const usage = `usage: npm run keys:rotate -- <${[...dataKeyPurposes, "all"].join("|")}>`;

function purposesFrom(argumentsAfterScript: readonly string[]): DataKeyPurpose[] | null {
  const [choice, ...rest] = argumentsAfterScript;
  if (rest.length > 0 || choice === undefined) return null;
  if (choice === "all") return [...dataKeyPurposes];
  return isDataKeyPurpose(choice) ? [choice] : null;
}

async function main(): Promise<number> {
  const purposes = purposesFrom(process.argv.slice(2));
  if (purposes === null) {
    process.stderr.write(`${usage}\n`);
    return 2;
  }
  // One purpose at a time, each reported as soon as it is done: if a later one fails, the output still says
  // exactly which rotations happened.
  for (const purpose of purposes) {
    const [rotated] = await rotateDataKeys([purpose]);
    if (rotated === undefined) throw new Error(`no rotation result for ${purpose}`);
    process.stdout.write(`${purpose}: version ${String(rotated.version)} is now the current data key for new writes\n`);
  }
  process.stdout.write(
    `Running instances switch within KEY_REFRESH_SECONDS (${String(env().keyRefreshSeconds)} s). ` +
      "Then run `npm run keys:reencrypt` to move existing values to the new version.\n",
  );
  return 0;
}

try {
  process.exitCode = await main();
} catch (error) {
  // BankError messages here name files, purposes and versions, never key material.
  process.stderr.write(`keys:rotate failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
} finally {
  await closeDatabase();
}
