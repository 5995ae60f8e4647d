/**
 *   npm run keys:reindex [-- --purpose <email>] [--batch-size <n>]
 *
 * Recomputes every blind index that is not on its purpose's current key version, after
 * `npm run keys:rotate -- blind-index:<purpose>`, while the app keeps serving (lib/crypto/blind-index-reindex.ts
 * explains how), with a progress bar per column on stderr. It can be interrupted at any time (Ctrl-C stops
 * after the batch in progress) and simply run again. At the end it counts the indexes still on old versions:
 * none means "No row uses an old blind-index key version.", a `keys.reindexed` audit event per purpose and
 * exit code 0; otherwise it lists them and exits with 1.
 *
 * It first waits until KEY_REFRESH_SECONDS have passed since the newest blind-index rotation recorded by
 * `keys:rotate`: until then a running instance may still compute new indexes with the previous version, and
 * may not yet look up under the new one, so a row moved to the new version too early could be missed by it.
 */
import "../db/load-environment";
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";
import { closeDatabase, database } from "@/db/client";
import { currentBlindIndexVersion } from "@/lib/crypto";
import {
  blindIndexedColumns,
  describeBlindIndexedColumn,
  describeIndexesOnOldVersions,
  findIndexesOnOldVersions,
  maximumReindexBatchSize,
  recordReindexCompleted,
  reindexColumn,
} from "@/lib/crypto/blind-index-reindex";
import { blindIndexPurposes, isBlindIndexPurpose, type BlindIndexPurpose } from "@/lib/crypto/key-provider";
import { secondsSinceNewestBlindIndexRotation } from "@/lib/crypto/rotate-blind-index-keys";
import { env } from "@/lib/env";
import { ProgressBar } from "./progress-bar";
import { describeError } from "@/scripts/describe-error";

const defaultBatchSize = 500;
const usage =
  `usage: npm run keys:reindex [-- --purpose <${blindIndexPurposes.join("|")}>] ` +
  `[--batch-size <1-${String(maximumReindexBatchSize)}, default ${String(defaultBatchSize)}>]`;

class UsageError extends Error {}

function parseOptions(argumentsAfterScript: string[]): { purposes: BlindIndexPurpose[]; batchSize: number } {
  const { values } = parseArgs({
    args: argumentsAfterScript,
    options: { purpose: { type: "string" }, "batch-size": { type: "string" } },
    strict: true,
    allowPositionals: false,
  });
  const purpose = values.purpose;
  if (purpose !== undefined && !isBlindIndexPurpose(purpose)) throw new UsageError(`unknown purpose ${purpose}`);
  const batchSizeText = values["batch-size"] ?? String(defaultBatchSize);
  const batchSize = /^[1-9][0-9]*$/.test(batchSizeText) ? Number(batchSizeText) : Number.NaN;
  if (!(batchSize >= 1 && batchSize <= maximumReindexBatchSize)) {
    throw new UsageError(`--batch-size must be a whole number from 1 to ${String(maximumReindexBatchSize)}`);
  }
  return { purposes: purpose === undefined ? [...blindIndexPurposes] : [purpose], batchSize };
}

async function waitForRunningInstances(purposes: readonly BlindIndexPurpose[]): Promise<void> {
  const refreshSeconds = env().keyRefreshSeconds;
  let newestSecondsAgo: number | null = null;
  for (const purpose of purposes) {
    const secondsAgo = await secondsSinceNewestBlindIndexRotation(database(), purpose);
    if (secondsAgo !== null && (newestSecondsAgo === null || secondsAgo < newestSecondsAgo)) newestSecondsAgo = secondsAgo;
  }
  if (newestSecondsAgo === null) {
    process.stderr.write("No blind-index rotation is recorded in the audit trail; starting at once.\n");
    return;
  }
  const waitSeconds = refreshSeconds - newestSecondsAgo;
  if (waitSeconds <= 0) return;
  process.stderr.write(
    `The newest blind-index rotation was ${newestSecondsAgo.toFixed(1)} s ago. Waiting ${waitSeconds.toFixed(1)} s more ` +
      `(KEY_REFRESH_SECONDS=${String(refreshSeconds)}), so that every running instance indexes and looks up with the ` +
      "new version before reindexing starts.\n",
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
  const columns = blindIndexedColumns.filter((column) => options.purposes.includes(column.purpose));

  // Ctrl-C asks for a clean stop after the batch in progress; a second Ctrl-C exits at once, which is safe
  // too (an unfinished batch's UPDATE is simply not committed).
  const interruption = new AbortController();
  process.once("SIGINT", () => {
    process.stderr.write("\nStopping after the batch in progress (Ctrl-C again to stop at once)...\n");
    interruption.abort();
    process.once("SIGINT", () => process.exit(130));
  });

  await waitForRunningInstances(options.purposes);
  const reindexedByPurpose = new Map<BlindIndexPurpose, number>();
  for (const column of columns) {
    if (interruption.signal.aborted) break;
    const bar = new ProgressBar(describeBlindIndexedColumn(column));
    const result = await reindexColumn(column, {
      batchSize: options.batchSize,
      signal: interruption.signal,
      onProgress: (progress) => bar.update(progress.processed, progress.total),
    });
    reindexedByPurpose.set(column.purpose, (reindexedByPurpose.get(column.purpose) ?? 0) + result.reindexed);
    bar.finish(
      result.processed,
      result.total,
      result.changedMeanwhile > 0 ? `(${String(result.changedMeanwhile)} changed by the app meanwhile, left as written)` : "",
    );
  }
  if (interruption.signal.aborted) {
    process.stderr.write("Interrupted. Run `npm run keys:reindex` again to recompute what is left.\n");
    return 130;
  }

  const remaining = await findIndexesOnOldVersions(columns);
  process.stdout.write(describeIndexesOnOldVersions(remaining));
  if (remaining.length > 0) {
    process.stdout.write("Run `npm run keys:reindex` again (rows changed during the run are picked up then).\n");
    return 1;
  }
  for (const purpose of options.purposes) {
    await recordReindexCompleted(purpose, await currentBlindIndexVersion(purpose), reindexedByPurpose.get(purpose) ?? 0);
  }
  return 0;
}

try {
  process.exitCode = await main();
} catch (error) {
  process.stderr.write(`\nkeys:reindex failed: ${describeError(error)}\n`);
  process.exitCode = 1;
} finally {
  await closeDatabase();
}
