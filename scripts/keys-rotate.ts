/**
 *   npm run keys:rotate -- <pii|mfa|memo|all|blind-index:email>
 *
 * Makes a new version of the purpose's data key (or of every data-key purpose's, with `all`) current for new
 * writes, through the configured key provider, and records it in the audit trail. Old versions are kept:
 * existing values keep decrypting until `npm run keys:reencrypt` rewrites them. Running app instances switch
 * to the new version within KEY_REFRESH_SECONDS. Prints versions only, never key material.
 *
 * `blind-index:<purpose>` rotates a blind-index key instead: new indexes are computed with the new version,
 * look-ups try every live version, and `npm run keys:reindex` recomputes the stored indexes. `all` leaves
 * blind-index keys alone, because their rotation asks for a reindex of the whole index column.
 */
import "../db/load-environment";
import { closeDatabase } from "@/db/client";
import {
  blindIndexPurposes,
  dataKeyPurposes,
  isBlindIndexPurpose,
  isDataKeyPurpose,
  type BlindIndexPurpose,
  type DataKeyPurpose,
} from "@/lib/crypto/key-provider";
import { rotateBlindIndexKeys } from "@/lib/crypto/rotate-blind-index-keys";
import { rotateDataKeys } from "@/lib/crypto/rotate-data-keys";
import { env } from "@/lib/env";

const blindIndexPrefix = "blind-index:";
const usage =
  `usage: npm run keys:rotate -- <${[...dataKeyPurposes, "all", ...blindIndexPurposes.map((purpose) => `${blindIndexPrefix}${purpose}`)].join("|")}>`;

type Choice = { kind: "data"; purposes: DataKeyPurpose[] } | { kind: "blind-index"; purpose: BlindIndexPurpose };

function choiceFrom(argumentsAfterScript: readonly string[]): Choice | null {
  const [choice, ...rest] = argumentsAfterScript;
  if (rest.length > 0 || choice === undefined) return null;
  if (choice === "all") return { kind: "data", purposes: [...dataKeyPurposes] };
  if (isDataKeyPurpose(choice)) return { kind: "data", purposes: [choice] };
  if (choice.startsWith(blindIndexPrefix)) {
    const purpose = choice.slice(blindIndexPrefix.length);
    return isBlindIndexPurpose(purpose) ? { kind: "blind-index", purpose } : null;
  }
  return null;
}

async function main(): Promise<number> {
  const choice = choiceFrom(process.argv.slice(2));
  if (choice === null) {
    process.stderr.write(`${usage}\n`);
    return 2;
  }
  const refreshSeconds = String(env().keyRefreshSeconds);
  if (choice.kind === "blind-index") {
    const [rotated] = await rotateBlindIndexKeys([choice.purpose]);
    if (rotated === undefined) throw new Error(`no rotation result for ${blindIndexPrefix}${choice.purpose}`);
    process.stdout.write(
      `${blindIndexPrefix}${choice.purpose}: version ${String(rotated.version)} is now the current blind-index key for new writes\n` +
        `Look-ups match every live version meanwhile. Running instances switch within KEY_REFRESH_SECONDS (${refreshSeconds} s). ` +
        "Then run `npm run keys:reindex` to recompute the stored indexes under the new version.\n",
    );
    return 0;
  }
  // One purpose at a time, each reported as soon as it is done: if a later one fails, the output still says
  // exactly which rotations happened.
  for (const purpose of choice.purposes) {
    const [rotated] = await rotateDataKeys([purpose]);
    if (rotated === undefined) throw new Error(`no rotation result for ${purpose}`);
    process.stdout.write(`${purpose}: version ${String(rotated.version)} is now the current data key for new writes\n`);
  }
  process.stdout.write(
    `Running instances switch within KEY_REFRESH_SECONDS (${refreshSeconds} s). ` +
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
