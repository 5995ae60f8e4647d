import "server-only";
/**
 * Online recomputation of blind indexes under the current key version, after `keys:rotate -- blind-index:…`.
 *
 * A blind index cannot be converted from one key to another: it is an HMAC, so the plaintext is needed. Every
 * index column therefore names the encrypted column holding the same value (users.email_ciphertext for
 * users.email_blind_index), which is decrypted with its own context (table, column, row id: the additional
 * authenticated data of field-cipher.ts) and indexed again.
 *
 * How it stays correct while the application keeps serving, like re-encryption (reencryption.ts):
 * - rows are walked per column in primary-key order, a batch at a time, selecting only indexes not on the
 *   current version; each batch is read and recomputed outside any transaction and written by one UPDATE
 *   statement that sets a row only where both the index and the ciphertext still hold exactly what was read.
 *   An email change that lands in between changes both, so its new address is never overwritten by an index
 *   computed from the old one; such a row is counted as "changed meanwhile", and the app wrote it under the
 *   current version anyway (or, if not, the next run picks it up);
 * - look-ups try every live version meanwhile (lib/crypto/index.ts `blindIndexLookup`), and the address lock
 *   of lib/identity/email-uniqueness.ts keeps one account per address, so sign-in, registration, password
 *   reset and email change work before, during and after the walk;
 * - it is resumable by construction: nothing remembers where a run stopped; the next run selects whatever is
 *   still on an old version;
 * - it ends by counting the indexes on old versions again, which is what the command reports.
 */
import { sql, type SQL } from "drizzle-orm";
import { database, executeRows, type Queryable } from "@/db/client";
import { users, userTokens } from "@/db/schema";
import { recordAuditEvent } from "@/lib/audit/record-audit-event";
import { blindIndex, currentBlindIndexVersion, decryptField } from "@/lib/crypto";
import { encryptedColumns, fieldContextOf, type EncryptedColumn } from "@/lib/crypto/encrypted-columns";
import { blindIndexVersionPrefix } from "@/lib/crypto/field-cipher";
import type { BlindIndexPurpose } from "@/lib/crypto/key-provider";
import { blindIndexKeyTargetType } from "@/lib/crypto/rotate-blind-index-keys";
import { isUniqueViolation } from "@/lib/database-errors";
import { BankError } from "@/lib/errors";

/** The audit action of a reindex run that left no index on an old version. */
export const blindIndexReindexedAction = "keys.reindexed";

export interface BlindIndexedColumn {
  readonly purpose: BlindIndexPurpose;
  /** SQL name of the column holding the stored index (`v<version>:<hex>`). */
  readonly indexColumn: string;
  /** The encrypted column of the same table whose plaintext is what the index is computed from. */
  readonly source: EncryptedColumn;
}

function sourceColumn(table: string, ciphertextColumn: string): EncryptedColumn {
  const found = encryptedColumns.find((column) => column.table === table && column.ciphertextColumn === ciphertextColumn);
  if (found === undefined) throw new Error(`${table}.${ciphertextColumn} is not in the encrypted-column registry`);
  return found;
}

/** Every blind-index column, each with the encrypted column it indexes. A new index column must be added here. */
export const blindIndexedColumns: readonly BlindIndexedColumn[] = Object.freeze([
  // lib/identity/register.ts, lib/identity/email-tokens.ts (email change taking effect)
  { purpose: "email", indexColumn: users.emailBlindIndex.name, source: sourceColumn("users", users.emailCiphertext.name) },
  // lib/identity/account-security.ts (email change requested)
  {
    purpose: "email",
    indexColumn: userTokens.newEmailBlindIndex.name,
    source: sourceColumn("user_tokens", userTokens.newEmailCiphertext.name),
  },
]);

/** "users.email_blind_index", for messages and the progress display. */
export function describeBlindIndexedColumn(column: BlindIndexedColumn): string {
  return `${column.source.table}.${column.indexColumn}`;
}

function tableOf(column: BlindIndexedColumn): SQL {
  return sql`${sql.identifier(column.source.table)}`;
}

function indexOf(column: BlindIndexedColumn): SQL {
  return sql`${sql.identifier(column.indexColumn)}`;
}

function ciphertextOf(column: BlindIndexedColumn): SQL {
  return sql`${sql.identifier(column.source.ciphertextColumn)}`;
}

function idOf(column: BlindIndexedColumn): SQL {
  return sql`${sql.identifier(column.source.idColumn)}`;
}

/** The `like` pattern of every index on `version`; the prefix holds only "v", digits and ":" (no wildcards). */
function versionPattern(version: number): string {
  return `${blindIndexVersionPrefix(version)}%`;
}

/** Rows whose index must be looked at: an index not on `currentVersion`, and the plaintext to recompute it. */
function onOtherVersions(column: BlindIndexedColumn, currentVersion: number): SQL {
  return sql`${indexOf(column)} is not null and ${ciphertextOf(column)} is not null
    and ${indexOf(column)} not like ${versionPattern(currentVersion)}`;
}

export interface StoredBlindIndex {
  readonly id: string;
  readonly index: string;
  readonly ciphertext: string;
}

/** Up to `limit` rows of `column` whose index is not on `currentVersion`, in id order, after `afterId`. */
export async function readIndexesOnOtherVersions(
  queryable: Queryable,
  column: BlindIndexedColumn,
  currentVersion: number,
  afterId: string | null,
  limit: number,
): Promise<StoredBlindIndex[]> {
  const after = afterId === null ? sql`` : sql`and ${idOf(column)} > ${afterId}::uuid`;
  const rows = await executeRows<{ id: string; index: string; ciphertext: string }>(
    queryable,
    sql`select ${idOf(column)}::text as id, ${indexOf(column)} as index, ${ciphertextOf(column)} as ciphertext
        from ${tableOf(column)}
        where ${onOtherVersions(column, currentVersion)}
          ${after}
        order by ${idOf(column)}
        limit ${limit}`,
  );
  return rows.map((row) => ({ id: String(row.id), index: String(row.index), ciphertext: String(row.ciphertext) }));
}

export interface RecomputedBlindIndex extends StoredBlindIndex {
  readonly newIndex: string;
}

/** Decrypts each row's value with its own context and computes its index under the current version. */
export async function recomputeIndexes(
  column: BlindIndexedColumn,
  rows: readonly StoredBlindIndex[],
): Promise<RecomputedBlindIndex[]> {
  const result: RecomputedBlindIndex[] = [];
  for (const row of rows) {
    let plaintext: string;
    try {
      plaintext = await decryptField(row.ciphertext, fieldContextOf(column.source, row.id), column.source.purpose);
    } catch (cause) {
      // Without the plaintext there is no new index; skipping the row silently would let the run claim success.
      throw new BankError("internal", {
        internalMessage: `${describeBlindIndexedColumn(column)} of row ${row.id}: its value does not decrypt; nothing of this batch was written`,
        cause,
      });
    }
    result.push({ ...row, newIndex: await blindIndex(column.purpose, plaintext) });
  }
  return result;
}

/**
 * Writes the recomputed indexes in one statement, each only where the row still holds the index and the
 * ciphertext that were read (compare-and-set); returns how many rows were updated.
 */
export async function writeRecomputedIndexes(
  queryable: Queryable,
  column: BlindIndexedColumn,
  rows: readonly RecomputedBlindIndex[],
): Promise<number> {
  if (rows.length === 0) return 0;
  const values = sql.join(
    rows.map((row) => sql`(${row.id}::uuid, ${row.index}::text, ${row.ciphertext}::text, ${row.newIndex}::text)`),
    sql`, `,
  );
  try {
    const updated = await executeRows<{ id: string }>(
      queryable,
      sql`update ${tableOf(column)} as target
          set ${indexOf(column)} = batch.new_index
          from (values ${values}) as batch (id, old_index, old_ciphertext, new_index)
          where target.${idOf(column)} = batch.id
            and target.${indexOf(column)} = batch.old_index
            and target.${ciphertextOf(column)} = batch.old_ciphertext
          returning target.${idOf(column)}::text as id`,
    );
    return updated.length;
  } catch (error) {
    // Two rows that index to the same value under the current version hold one address twice, which the
    // unique constraint refuses; it means that a writer bypassed lib/identity/email-uniqueness.ts. That needs
    // a person, not a retry, so the whole batch stays unwritten and the command names the problem.
    if (isUniqueViolation(error)) {
      throw new BankError("internal", {
        internalMessage: `${describeBlindIndexedColumn(column)}: two rows hold the same address; nothing of this batch was written`,
        cause: error,
      });
    }
    throw error;
  }
}

/** Indexes of `column` not on `currentVersion`. */
export async function countIndexesOnOtherVersions(
  queryable: Queryable,
  column: BlindIndexedColumn,
  currentVersion: number,
): Promise<number> {
  const [row] = await executeRows<{ count: number }>(
    queryable,
    sql`select count(*)::int as count from ${tableOf(column)} where ${onOtherVersions(column, currentVersion)}`,
  );
  return Number(row?.count ?? 0);
}

export interface ReindexProgress {
  readonly column: BlindIndexedColumn;
  /** Indexes on other versions when the walk began (the progress bar's 100%). */
  readonly total: number;
  /** Rows looked at so far (recomputed or found changed). */
  readonly processed: number;
  readonly reindexed: number;
  readonly changedMeanwhile: number;
}

export interface ReindexColumnOptions {
  readonly batchSize: number;
  /** Checked between batches: an aborted run stops after the batch in progress and can simply be run again. */
  readonly signal?: AbortSignal;
  readonly onProgress?: (progress: ReindexProgress) => void;
}

/** Each row takes four bound parameters; PostgreSQL allows 65,535 per statement. */
export const maximumReindexBatchSize = 10_000;

/**
 * Recomputes every index of one column that is not on its purpose's current version, batch by batch. The
 * current version is read once at the start; a row the app writes meanwhile under an even newer version is
 * left alone by this walk.
 */
export async function reindexColumn(column: BlindIndexedColumn, options: ReindexColumnOptions): Promise<ReindexProgress> {
  if (!Number.isInteger(options.batchSize) || options.batchSize < 1 || options.batchSize > maximumReindexBatchSize) {
    throw new BankError("invalid_input", {
      internalMessage: `the batch size must be a whole number from 1 to ${String(maximumReindexBatchSize)}`,
    });
  }
  const db = database();
  const currentVersion = await currentBlindIndexVersion(column.purpose);
  let progress: ReindexProgress = {
    column,
    total: await countIndexesOnOtherVersions(db, column, currentVersion),
    processed: 0,
    reindexed: 0,
    changedMeanwhile: 0,
  };
  options.onProgress?.(progress);
  let afterId: string | null = null;
  while (options.signal?.aborted !== true) {
    const rows = await readIndexesOnOtherVersions(db, column, currentVersion, afterId, options.batchSize);
    if (rows.length === 0) break;
    const written = await writeRecomputedIndexes(db, column, await recomputeIndexes(column, rows));
    afterId = rows[rows.length - 1]?.id ?? afterId;
    progress = {
      column,
      // Rows written under an old version after the count began can make the walk find more than counted.
      total: Math.max(progress.total, progress.processed + rows.length),
      processed: progress.processed + rows.length,
      reindexed: progress.reindexed + written,
      changedMeanwhile: progress.changedMeanwhile + rows.length - written,
    };
    options.onProgress?.(progress);
    if (rows.length < options.batchSize) break;
  }
  return progress;
}

export interface IndexesOnOldVersions {
  readonly column: BlindIndexedColumn;
  readonly currentVersion: number;
  /** How many indexes each old version still has, e.g. { "v1": 12 }. */
  readonly countsByVersion: ReadonlyMap<string, number>;
}

/** Every column that still holds indexes not on its purpose's current version, with counts per version. */
export async function findIndexesOnOldVersions(columns: readonly BlindIndexedColumn[]): Promise<IndexesOnOldVersions[]> {
  const db = database();
  const found: IndexesOnOldVersions[] = [];
  for (const column of columns) {
    const currentVersion = await currentBlindIndexVersion(column.purpose);
    const rows = await executeRows<{ version: string; count: number }>(
      db,
      sql`select split_part(${indexOf(column)}, ':', 1) as version, count(*)::int as count
          from ${tableOf(column)}
          where ${onOtherVersions(column, currentVersion)}
          group by 1 order by 1`,
    );
    if (rows.length > 0) {
      found.push({
        column,
        currentVersion,
        countsByVersion: new Map(rows.map((row) => [String(row.version), Number(row.count)])),
      });
    }
  }
  return found;
}

/** The command's report of what is left: one line per column, with the count of indexes per old version. */
export function describeIndexesOnOldVersions(remaining: readonly IndexesOnOldVersions[]): string {
  if (remaining.length === 0) return "No row uses an old blind-index key version.\n";
  const lines = remaining.map((entry) => {
    const versions = [...entry.countsByVersion].map(([version, count]) => `${version}: ${String(count)}`);
    return (
      `  ${describeBlindIndexedColumn(entry.column)} (blind-index:${entry.column.purpose}, current version ` +
      `${String(entry.currentVersion)}): ${versions.join(", ")}`
    );
  });
  return `Indexes still on an old blind-index key version:\n${lines.join("\n")}\n`;
}

/**
 * Records in the audit trail that every index of `purpose` is on `version` (purpose, version and counts
 * only). The command calls it only when the final count found nothing left.
 */
export async function recordReindexCompleted(purpose: BlindIndexPurpose, version: number, reindexed: number): Promise<void> {
  await recordAuditEvent(database(), {
    actorId: null,
    actorRole: "system",
    action: blindIndexReindexedAction,
    targetType: blindIndexKeyTargetType,
    targetId: purpose,
    details: { purpose: `blind-index:${purpose}`, version, reindexed },
  });
}
