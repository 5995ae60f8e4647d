import "server-only";
/**
 * Online re-encryption of existing ciphertexts under the current data-key versions, after `keys:rotate`.
 *
 * How it stays correct while the application keeps serving:
 * - Rows are walked per column in primary-key order, a batch at a time, selecting only values that are not on
 *   the current version. Each batch is read, decrypted and re-encrypted outside any transaction, and then
 *   written by one UPDATE statement (one short transaction of its own: PostgreSQL runs a single statement
 *   atomically) that sets a row only where the column still holds exactly the ciphertext that was read.
 *   That compare-and-set means a value the application changed in the meantime (a new email address, a new
 *   authenticator) is never overwritten with an older one; such a row is counted as "changed meanwhile" and,
 *   if the application wrote it with an old version, the next run picks it up.
 * - No row is locked while keys are used, and every lock the UPDATE takes is held only for that statement, so
 *   sign-ins and transfers wait at most for one batch's write.
 * - It is resumable by construction: nothing remembers where a run stopped. An interrupted run leaves some
 *   rows on the new version and some on the old, and the next run selects whatever is still old.
 * - It finishes by counting the values on old versions again (`countValuesOnOldVersions`), which is what the
 *   command reports as done or not done.
 */
import { desc, eq, sql, type SQL } from "drizzle-orm";
import { database, executeRows, type Queryable } from "@/db/client";
import { auditEvents } from "@/db/schema";
import { currentDataKeyVersion, decryptField, encryptField } from "@/lib/crypto";
import { describeEncryptedColumn, fieldContextOf, type EncryptedColumn } from "@/lib/crypto/encrypted-columns";
import { BankError } from "@/lib/errors";

/** The audit action `keys:rotate` records; its time tells `keys:reencrypt` how recent the last rotation is. */
export const dataKeyRotatedAction = "crypto.data_key.rotated";

/** The envelope's leading label and separator, as written by field-cipher.ts (`v1:<purpose>:<version>:...`). */
function currentVersionPrefix(column: EncryptedColumn, version: number): string {
  return `v1:${column.purpose}:${String(version)}:`;
}

function tableOf(column: EncryptedColumn): SQL {
  return sql`${sql.identifier(column.table)}`;
}

function ciphertextOf(column: EncryptedColumn): SQL {
  return sql`${sql.identifier(column.ciphertextColumn)}`;
}

function idOf(column: EncryptedColumn): SQL {
  return sql`${sql.identifier(column.idColumn)}`;
}

/**
 * `like` patterns treat `_` and `%` as wildcards; the prefix is built from a purpose and digits only, but it
 * is escaped anyway so that a future purpose name with an underscore cannot widen the match.
 */
function likePrefix(prefix: string): string {
  return `${prefix.replace(/[\\%_]/g, (character) => `\\${character}`)}%`;
}

export interface StoredCiphertext {
  readonly id: string;
  readonly ciphertext: string;
}

/** Up to `limit` values of `column` not on `currentVersion`, in id order, after `afterId` (exclusive). */
export async function readValuesOnOtherVersions(
  queryable: Queryable,
  column: EncryptedColumn,
  currentVersion: number,
  afterId: string | null,
  limit: number,
): Promise<StoredCiphertext[]> {
  const after = afterId === null ? sql`` : sql`and ${idOf(column)} > ${afterId}::uuid`;
  const rows = await executeRows<{ id: string; ciphertext: string }>(
    queryable,
    sql`select ${idOf(column)}::text as id, ${ciphertextOf(column)} as ciphertext
        from ${tableOf(column)}
        where ${ciphertextOf(column)} is not null
          and ${ciphertextOf(column)} not like ${likePrefix(currentVersionPrefix(column, currentVersion))}
          ${after}
        order by ${idOf(column)}
        limit ${limit}`,
  );
  return rows.map((row) => ({ id: String(row.id), ciphertext: String(row.ciphertext) }));
}

export interface ReencryptedValue {
  readonly id: string;
  readonly previousCiphertext: string;
  readonly ciphertext: string;
}

/** Decrypts each value with its own (old) version and encrypts it again with the current one, same context. */
export async function reencryptValues(
  column: EncryptedColumn,
  values: readonly StoredCiphertext[],
): Promise<ReencryptedValue[]> {
  const result: ReencryptedValue[] = [];
  for (const value of values) {
    const context = fieldContextOf(column, value.id);
    let plaintext: string;
    try {
      plaintext = await decryptField(value.ciphertext, context, column.purpose);
    } catch (cause) {
      // A value that does not decrypt is corrupt or bound elsewhere; re-encrypting it is impossible, and
      // skipping it silently would let the run claim success. The row id is not secret; the value is not shown.
      throw new BankError("internal", {
        internalMessage: `${describeEncryptedColumn(column)} of row ${value.id} does not decrypt; nothing of this batch was written`,
        cause,
      });
    }
    result.push({
      id: value.id,
      previousCiphertext: value.ciphertext,
      ciphertext: await encryptField(plaintext, context, column.purpose),
    });
  }
  return result;
}

/**
 * Writes the re-encrypted values in one statement, each only where the column still holds the ciphertext
 * that was read (compare-and-set); returns how many rows were updated. The others were changed by the
 * application in between and keep the application's value.
 */
export async function writeReencryptedValues(
  queryable: Queryable,
  column: EncryptedColumn,
  values: readonly ReencryptedValue[],
): Promise<number> {
  if (values.length === 0) return 0;
  const rows = sql.join(
    values.map((value) => sql`(${value.id}::uuid, ${value.previousCiphertext}::text, ${value.ciphertext}::text)`),
    sql`, `,
  );
  const updated = await executeRows<{ id: string }>(
    queryable,
    sql`update ${tableOf(column)} as target
        set ${ciphertextOf(column)} = batch.new_ciphertext
        from (values ${rows}) as batch (id, old_ciphertext, new_ciphertext)
        where target.${idOf(column)} = batch.id
          and target.${ciphertextOf(column)} = batch.old_ciphertext
        returning target.${idOf(column)}::text as id`,
  );
  return updated.length;
}

export interface ColumnProgress {
  readonly column: EncryptedColumn;
  /** Values on other versions when the column's walk began (the progress bar's 100%). */
  readonly total: number;
  /** Values looked at so far (re-encrypted or found changed). */
  readonly processed: number;
  readonly reencrypted: number;
  readonly changedMeanwhile: number;
}

export interface ReencryptColumnOptions {
  readonly batchSize: number;
  /** Checked between batches: an aborted run stops after the batch in progress and can simply be run again. */
  readonly signal?: AbortSignal;
  readonly onProgress?: (progress: ColumnProgress) => void;
}

/** Counts the values of `column` not on `currentVersion`. */
export async function countValuesOnOtherVersions(
  queryable: Queryable,
  column: EncryptedColumn,
  currentVersion: number,
): Promise<number> {
  const [row] = await executeRows<{ count: number }>(
    queryable,
    sql`select count(*)::int as count from ${tableOf(column)}
        where ${ciphertextOf(column)} is not null
          and ${ciphertextOf(column)} not like ${likePrefix(currentVersionPrefix(column, currentVersion))}`,
  );
  return Number(row?.count ?? 0);
}

/**
 * Re-encrypts every value of one column that is not on its purpose's current version, batch by batch.
 * The current version is read once at the start: a value written meanwhile by the application with a newer
 * version (after another rotation) is left alone by this walk and reported by the final count if it is old.
 */
export async function reencryptColumn(column: EncryptedColumn, options: ReencryptColumnOptions): Promise<ColumnProgress> {
  if (!Number.isInteger(options.batchSize) || options.batchSize < 1 || options.batchSize > maximumBatchSize) {
    throw new BankError("invalid_input", {
      internalMessage: `the batch size must be a whole number from 1 to ${String(maximumBatchSize)}`,
    });
  }
  const db = database();
  const currentVersion = await currentDataKeyVersion(column.purpose);
  let progress: ColumnProgress = {
    column,
    total: await countValuesOnOtherVersions(db, column, currentVersion),
    processed: 0,
    reencrypted: 0,
    changedMeanwhile: 0,
  };
  options.onProgress?.(progress);
  let afterId: string | null = null;
  while (options.signal?.aborted !== true) {
    const values = await readValuesOnOtherVersions(db, column, currentVersion, afterId, options.batchSize);
    if (values.length === 0) break;
    const reencrypted = await reencryptValues(column, values);
    const written = await writeReencryptedValues(db, column, reencrypted);
    afterId = values[values.length - 1]?.id ?? afterId;
    progress = {
      column,
      // Rows written with an old version after the count began can make the walk find more than counted.
      total: Math.max(progress.total, progress.processed + values.length),
      processed: progress.processed + values.length,
      reencrypted: progress.reencrypted + written,
      changedMeanwhile: progress.changedMeanwhile + values.length - written,
    };
    options.onProgress?.(progress);
    if (values.length < options.batchSize) break;
  }
  return progress;
}

/**
 * Each value takes three bound parameters in the UPDATE, and PostgreSQL allows 65,535 per statement; ten
 * thousand rows also keep one batch's write short.
 */
export const maximumBatchSize = 10_000;

export interface ValuesOnOldVersions {
  readonly column: EncryptedColumn;
  readonly currentVersion: number;
  /** How many values each old version still has, e.g. { 1: 12 }. */
  readonly countsByVersion: ReadonlyMap<string, number>;
}

/** Every column that still holds values not on its purpose's current version, with counts per version. */
export async function findValuesOnOldVersions(columns: readonly EncryptedColumn[]): Promise<ValuesOnOldVersions[]> {
  const db = database();
  const found: ValuesOnOldVersions[] = [];
  for (const column of columns) {
    const currentVersion = await currentDataKeyVersion(column.purpose);
    const rows = await executeRows<{ version: string; count: number }>(
      db,
      sql`select split_part(${ciphertextOf(column)}, ':', 3) as version, count(*)::int as count
          from ${tableOf(column)}
          where ${ciphertextOf(column)} is not null
            and ${ciphertextOf(column)} not like ${likePrefix(currentVersionPrefix(column, currentVersion))}
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

/** The command's report of what is left: one line per column, with the count of values per old version. */
export function describeValuesOnOldVersions(remaining: readonly ValuesOnOldVersions[]): string {
  if (remaining.length === 0) return "No row uses an old key version.\n";
  const lines = remaining.map((entry) => {
    const versions = [...entry.countsByVersion].map(([version, count]) => `version ${version}: ${String(count)}`);
    return (
      `  ${describeEncryptedColumn(entry.column)} (${entry.column.purpose}, current version ${String(entry.currentVersion)}): ` +
      versions.join(", ")
    );
  });
  return `Values still on an old key version:\n${lines.join("\n")}\n`;
}

/**
 * Seconds since the newest rotation recorded in the audit trail, measured by the database's clock (the one
 * that stamped it), or null if no rotation was ever recorded.
 */
export async function secondsSinceNewestRotation(queryable: Queryable): Promise<number | null> {
  const [newest] = await queryable
    .select({ secondsAgo: sql<string>`extract(epoch from (now() - ${auditEvents.occurredAt}))::text` })
    .from(auditEvents)
    .where(eq(auditEvents.action, dataKeyRotatedAction))
    .orderBy(desc(auditEvents.sequence))
    .limit(1);
  return newest === undefined ? null : Number(newest.secondsAgo);
}
