/**
 * Encrypted backups of the whole database, and their restore (`npm run db:backup`, `db:verify`, `db:restore`;
 * the command line is scripts/db-backup.ts). This module starts the PostgreSQL client tools, which is why it
 * lives with the tools and not in lib/, whose code may never start a process.
 *
 * - PostgreSQL: `pg_dump` in plain SQL format (without owners and privileges, so that the dump restores into a
 *   database whose roles differ) streams into the encrypted format of backup-format.ts; nothing of the dump
 *   touches the disk unencrypted. pg_dump reads one consistent snapshot, so the app may keep running.
 * - Embedded PGlite: the data-directory tarball that PGlite itself produces (`dumpDataDir`). PGlite builds
 *   that tarball in memory (the size of the local database), then it is encrypted as a stream. The folder must
 *   not be open elsewhere: the app's lock file makes the backup fail with a sentence naming the process.
 *
 * A restore reads the backup twice. The first pass authenticates every record and keeps nothing (PostgreSQL),
 * so that a truncated, reordered, duplicated or altered backup is refused before a single row is written. The
 * second pass decrypts again, re-checking every record, into `psql --single-transaction` with ON_ERROR_STOP:
 * should the file change between the passes, the restore stops, psql is killed before it sees the end of its
 * input, and the server rolls the transaction back. PGlite keeps the verified chunks of the first pass in
 * memory and creates the new database from them only after the pass has completed.
 * Restores go only into an empty database (no tables, functions or schemas of its own) or a missing or empty
 * PGlite folder: merging a dump into live data would leave neither the old state nor the backed-up one.
 */
import { spawn } from "node:child_process";
import { BankError } from "@/lib/errors";
import {
  assertPgliteDirectoryEmpty,
  assertPostgresDatabaseEmpty,
  pgliteDataDirectoryDump,
  restorePgliteDataDirectory,
} from "@/lib/backup/embedded-database";
import {
  decryptBackup,
  assertDestinationFree,
  readBackupHeader,
  verifyBackup,
  writeEncryptedBackup,
  type BackupKeyWrapping,
  type BackupSourceKind,
  type BackupSummary,
  type VerifiedBackup,
} from "@/lib/backup/backup-format";

export type DatabaseLocationForBackup =
  | { readonly kind: "postgres"; readonly databaseUrl: string }
  | { readonly kind: "pglite"; readonly directory: string };

export interface BackupDatabaseOptions {
  readonly source: DatabaseLocationForBackup;
  readonly destination: string;
  readonly keys: BackupKeyWrapping;
  /** Smaller chunks in tests make reordering meaningful; the default is 1 MiB. */
  readonly chunkSizeBytes?: number;
}

export interface RestoreDatabaseOptions {
  readonly target: DatabaseLocationForBackup;
  readonly backupFile: string;
  readonly keys: BackupKeyWrapping;
}

/** What stderr of a failed tool is kept for the error message: enough for its complaint, not a whole dump. */
const maximumStderrBytes = 8 * 1024;

function sourceKindFor(location: DatabaseLocationForBackup): BackupSourceKind {
  return location.kind === "postgres" ? "postgres-plain-sql" : "pglite-data-directory-tar";
}

export async function backupDatabase(options: BackupDatabaseOptions): Promise<BackupSummary> {
  // Checked before any dump runs, so that a typo in the file name does not cost a whole dump.
  await assertDestinationFree(options.destination);
  const source = options.source;
  return writeEncryptedBackup({
    destination: options.destination,
    source: source.kind === "postgres" ? pgDumpOutput(source.databaseUrl) : pgliteDataDirectoryDump(source.directory),
    sourceKind: sourceKindFor(source),
    keys: options.keys,
    ...(options.chunkSizeBytes === undefined ? {} : { chunkSizeBytes: options.chunkSizeBytes }),
  });
}

/** A full authenticated pass over a backup (`db:verify`): throws on any damage, writes nothing anywhere. */
export async function verifyDatabaseBackup(backupFile: string, keys: BackupKeyWrapping): Promise<VerifiedBackup> {
  return verifyBackup(backupFile, keys);
}

export async function restoreDatabase(options: RestoreDatabaseOptions): Promise<VerifiedBackup> {
  const header = await readBackupHeader(options.backupFile);
  const expectedKind = sourceKindFor(options.target);
  if (header.sourceKind !== expectedKind) {
    throw new BankError("invalid_input", {
      internalMessage:
        `the backup holds a ${header.sourceKind} dump, which cannot be restored into ${options.target.kind === "postgres" ? "PostgreSQL" : "the embedded PGlite"}`,
    });
  }
  const target = options.target;
  if (target.kind === "postgres") {
    await assertPostgresDatabaseEmpty(target.databaseUrl);
    const verified = await verifyBackup(options.backupFile, options.keys);
    await restoreIntoPostgres(options.backupFile, options.keys, verified.prefix, target.databaseUrl);
    return verified;
  }
  assertPgliteDirectoryEmpty(target.directory);
  const chunks: Uint8Array<ArrayBuffer>[] = [];
  const verified = await verifyBackup(options.backupFile, options.keys, (chunk) => chunks.push(new Uint8Array(chunk)));
  await restorePgliteDataDirectory(target.directory, new Blob(chunks));
  return verified;
}

/**
 * Connection details for the PostgreSQL client tools without the password on their command line (where every
 * user of the machine could read it in the process list): it travels in PGPASSWORD instead.
 */
function toolConnection(databaseUrl: string): { url: string; environment: NodeJS.ProcessEnv } {
  const url = new URL(databaseUrl);
  const password = decodeURIComponent(url.password);
  url.password = "";
  const environment: NodeJS.ProcessEnv = { ...process.env };
  if (password.length > 0) environment.PGPASSWORD = password;
  return { url: url.toString(), environment };
}

/** Collects a bounded tail of a child's stderr for error messages. */
function stderrCollector(stream: NodeJS.ReadableStream): () => string {
  let collected = Buffer.alloc(0);
  stream.on("data", (piece: Buffer) => {
    collected = Buffer.concat([collected, piece]);
    if (collected.length > maximumStderrBytes) collected = collected.subarray(collected.length - maximumStderrBytes);
  });
  return () => collected.toString("utf8").trim();
}

function exitOf(child: ReturnType<typeof spawn>, tool: string): Promise<number | null> {
  const exit = new Promise<number | null>((resolve, reject) => {
    child.once("error", (cause) => reject(new BankError("unavailable", { internalMessage: `${tool} could not be started`, cause })));
    child.once("close", (code) => resolve(code));
  });
  // The outcome is awaited later; this handler only keeps an early failure from counting as unhandled.
  exit.catch(() => undefined);
  return exit;
}

/**
 * pg_dump's output as it is produced. The generator ends normally only after pg_dump has exited with 0, so
 * that the backup's final record (and with it a usable file) exists only for a complete dump.
 */
async function* pgDumpOutput(databaseUrl: string): AsyncGenerator<Buffer> {
  const { url, environment } = toolConnection(databaseUrl);
  const child = spawn("pg_dump", ["--format=plain", "--no-owner", "--no-privileges", "--dbname", url], {
    env: environment,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const exit = exitOf(child, "pg_dump");
  const stderr = stderrCollector(child.stderr);
  let completed = false;
  try {
    for await (const piece of child.stdout) yield piece as Buffer;
    const code = await exit;
    if (code !== 0) throw new BankError("unavailable", { internalMessage: `pg_dump failed (exit ${String(code)}): ${stderr()}` });
    completed = true;
  } finally {
    if (!completed) child.kill("SIGTERM");
  }
}

/** The second pass: the backup decrypted again, record by record, into one psql transaction. */
async function restoreIntoPostgres(backupFile: string, keys: BackupKeyWrapping, verifiedPrefix: Buffer, databaseUrl: string): Promise<void> {
  const { url, environment } = toolConnection(databaseUrl);
  const child = spawn(
    "psql",
    ["--no-psqlrc", "--quiet", "--single-transaction", "--set", "ON_ERROR_STOP=1", "--dbname", url],
    { env: environment, stdio: ["pipe", "ignore", "pipe"] },
  );
  const exit = exitOf(child, "psql");
  const stderr = stderrCollector(child.stderr);
  const input = child.stdin;
  // A write to psql after it died (a failed statement with ON_ERROR_STOP) raises EPIPE on stdin; the exit code
  // below reports that failure, with psql's own message.
  input.on("error", () => undefined);
  let streamed = false;
  try {
    for await (const chunk of decryptBackup(backupFile, { keys, expectedPrefix: verifiedPrefix })) {
      if (child.exitCode !== null) break;
      if (!input.write(chunk)) await drainedOrClosed(input);
    }
    streamed = true;
  } finally {
    // Killed before its input ends: psql would otherwise read the end of a cut-off input as the end of the
    // script and commit what it had. A killed client's transaction is rolled back by the server.
    if (!streamed) child.kill("SIGKILL");
  }
  input.end();
  const code = await exit;
  if (code !== 0) throw new BankError("unavailable", { internalMessage: `psql failed (exit ${String(code)}): ${stderr()}` });
}

/** Waits until psql has taken what was written (or has gone), leaving no listener behind for the next chunk. */
function drainedOrClosed(input: NodeJS.WritableStream): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = () => {
      input.removeListener("drain", done);
      input.removeListener("close", done);
      resolve();
    };
    input.on("drain", done);
    input.on("close", done);
  });
}
