/**
 *   npm run keys:reencrypt [-- --purpose <pii|mfa|memo>] [--batch-size <n>]
 *
 * Rewrites every encrypted value that is not on its purpose's current data-key version, while the app keeps
 * serving (lib/crypto/reencryption.ts explains how), with a progress bar per column on stderr. It can be
 * interrupted at any time (Ctrl-C stops after the batch in progress) and simply run again. At the end it
 * counts the values still on old versions: none means "No row uses an old key version." and exit code 0;
 * otherwise it lists them and exits with 1.
 *
 * It first waits until KEY_REFRESH_SECONDS have passed since the newest rotation recorded by `keys:rotate`,
 * because until then a running instance may still write new values with the previous version, which would
 * be left behind after the last batch.
 */
import "../db/load-environment";
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";
import { closeDatabase, database } from "@/db/client";
import { describeEncryptedColumn, encryptedColumns } from "@/lib/crypto/encrypted-columns";
import type { EncryptedColumn } from "@/lib/crypto/encrypted-columns";
import { recordAuditEvent } from "@/lib/audit/record-audit-event";
import { currentDataKeyVersion } from "@/lib/crypto";
import { dataKeyPurposes, isDataKeyPurpose } from "@/lib/crypto/key-provider";
import {
  describeValuesOnOldVersions,
  findValuesOnOldVersions,
  maximumBatchSize,
  reencryptColumn,
  secondsSinceNewestRotation,
} from "@/lib/crypto/reencryption";
import { env } from "@/lib/env";
import { ProgressBar } from "./progress-bar";
import { describeError } from "@/scripts/describe-error";

const defaultBatchSize = 500;
const usage =
  `usage: npm run keys:reencrypt [-- --purpose <${dataKeyPurposes.join("|")}>] ` +
  `[--batch-size <1-${String(maximumBatchSize)}, default ${String(defaultBatchSize)}>]`;

class UsageError extends Error {}

function parseOptions(argumentsAfterScript: string[]) {
  const { values } = parseArgs({
    args: argumentsAfterScript,
    options: { purpose: { type: "string" }, "batch-size": { type: "string" } },
    strict: true,
    allowPositionals: false,
  });
  const purpose = values.purpose;
  if (purpose !== undefined && !isDataKeyPurpose(purpose)) throw new UsageError(`unknown purpose ${purpose}`);
  const batchSizeText = values["batch-size"] ?? String(defaultBatchSize);
  const batchSize = /^[1-9][0-9]*$/.test(batchSizeText) ? Number(batchSizeText) : Number.NaN;
  if (!(batchSize >= 1 && batchSize <= maximumBatchSize)) {
    throw new UsageError(`--batch-size must be a whole number from 1 to ${String(maximumBatchSize)}`);
  }
  return { purpose, batchSize };
}

async function waitForRunningInstances(): Promise<void> {
  const refreshSeconds = env().keyRefreshSeconds;
  const secondsAgo = await secondsSinceNewestRotation(database());
  if (secondsAgo === null) {
    process.stderr.write("No rotation is recorded in the audit trail; starting at once.\n");
    return;
  }
  const waitSeconds = refreshSeconds - secondsAgo;
  if (waitSeconds <= 0) return;
  process.stderr.write(
    `The newest rotation was ${secondsAgo.toFixed(1)} s ago. Waiting ${waitSeconds.toFixed(1)} s more ` +
      `(KEY_REFRESH_SECONDS=${String(refreshSeconds)}), so that every running instance writes with the new ` +
      "version before re-encryption starts.\n",
  );
  await sleep(Math.ceil(waitSeconds * 1000));
}

async function main(): Promise<number> {
  let options: ReturnType<typeof parseOptions>;
  try {
    options = parseOptions(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n${usage}\n`);
    return 2;
  }
  const columns = encryptedColumns.filter((column) => options.purpose === undefined || column.purpose === options.purpose);

  // Ctrl-C asks for a clean stop after the batch in progress; a second Ctrl-C exits at once, which is safe
  // too (an unfinished batch's UPDATE is simply not committed).
  const interruption = new AbortController();
  process.once("SIGINT", () => {
    process.stderr.write("\nStopping after the batch in progress (Ctrl-C again to stop at once)...\n");
    interruption.abort();
    process.once("SIGINT", () => process.exit(130));
  });

  await waitForRunningInstances();
  for (const column of columns) {
    if (interruption.signal.aborted) break;
    const bar = new ProgressBar(describeEncryptedColumn(column));
    const result = await reencryptColumn(column, {
      batchSize: options.batchSize,
      signal: interruption.signal,
      onProgress: (progress) => bar.update(progress.processed, progress.total),
    });
    bar.finish(
      result.processed,
      result.total,
      result.changedMeanwhile > 0 ? `(${String(result.changedMeanwhile)} changed by the app meanwhile, left as written)` : "",
    );
  }
  if (interruption.signal.aborted) {
    process.stderr.write("Interrupted. Run `npm run keys:reencrypt` again to re-encrypt what is left.\n");
    return 130;
  }

  const remaining = await findValuesOnOldVersions(columns);
  if (remaining.length === 0) {
    process.stdout.write(describeValuesOnOldVersions(remaining));
    await recordReencryptionCompleted(columns);
    return 0;
  }
  process.stdout.write(describeValuesOnOldVersions(remaining));
  process.stdout.write("Run `npm run keys:reencrypt` again (values changed during the run are picked up then).\n");
  return 1;
}

/**
 * Records in the audit trail, per purpose, that no value is left on an old version (purpose and version
 * only), as `keys:reindex` does for blind indexes with `keys.reindexed`.
 */
async function recordReencryptionCompleted(columns: readonly EncryptedColumn[]): Promise<void> {
  for (const purpose of new Set(columns.map((column) => column.purpose))) {
    await recordAuditEvent(database(), {
      actorId: null,
      actorRole: "system",
      action: "keys.reencrypted",
      targetType: "data_key",
      targetId: purpose,
      details: { purpose, version: await currentDataKeyVersion(purpose) },
    });
  }
}

try {
  process.exitCode = await main();
} catch (error) {
  process.stderr.write(`\nkeys:reencrypt failed: ${describeError(error)}\n`);
  process.exitCode = 1;
} finally {
  await closeDatabase();
}
