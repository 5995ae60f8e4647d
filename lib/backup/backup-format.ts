import "server-only";
/**
 * The encrypted backup file format (version 1), written by `npm run db:backup` and read by `db:restore`.
 *
 *   prefix   "HBBACKUP" (8 bytes) | format version (u16, big-endian) | header length (u32) | header (JSON, UTF-8)
 *   records  flag (u8: 0 = more follow, 1 = final) | plaintext length (u32) | ciphertext | GCM tag (16 bytes)
 *
 * The header names the source (a PostgreSQL plain SQL dump or a PGlite data-directory tarball), when the
 * backup was made, the chunk size, and the backup's file key wrapped by the key provider together with the
 * provider and key label that wrapped it. The file key is 256 random bits made for this one backup; it never
 * leaves this process unwrapped.
 *
 * Every record is the next slice of the dump (at most the header's chunk size) sealed with AES-256-GCM under
 * the file key. Its nonce is the record's sequence number (u64) followed by its final flag (u32), and its
 * additional data is the SHA-256 of the whole prefix, the sequence number, the flag and the length. So:
 * - a record moved, duplicated or dropped decrypts with the wrong sequence number and fails its tag;
 * - a file cut anywhere ends before a record flagged final, which is refused, and data after the final record
 *   is refused too; a flag flipped to "final" early fails the tag, because the flag is in the nonce;
 * - any byte changed in the header changes the digest that every record is bound to, so the first record
 *   fails (a changed wrapped key fails already when it is unwrapped);
 * - nonces never repeat under one key, because each backup has its own key and each record its own number.
 * The reader yields a chunk only after its tag has been checked, and the final chunk only after the end of the
 * file has been checked, so that a consumer that sees the iteration complete has seen exactly the dump.
 */
import { createCipheriv, createDecipheriv, createHash, createSecretKey, randomBytes, type KeyObject } from "node:crypto";
import { link, open, unlink, type FileHandle } from "node:fs/promises";
import path from "node:path";
import { z } from "zod";
import { BankError } from "@/lib/errors";
import type { KeyProvider, WrappedBackupKey } from "@/lib/crypto/key-provider";

/** The two key-provider methods a backup needs; the script passes the configured provider, tests their own. */
export type BackupKeyWrapping = Pick<KeyProvider, "wrapBackupKey" | "unwrapBackupKey">;

export const backupSourceKinds = ["postgres-plain-sql", "pglite-data-directory-tar"] as const;
export type BackupSourceKind = (typeof backupSourceKinds)[number];

export interface BackupHeader {
  readonly sourceKind: BackupSourceKind;
  /** ISO 8601, UTC. */
  readonly createdAt: string;
  readonly chunkSizeBytes: number;
  readonly wrappedFileKey: WrappedBackupKey;
}

const magic = Buffer.from("HBBACKUP", "ascii");
const formatVersion = 1;
const prefixFixedLengthInBytes = magic.length + 2 + 4;
/** A header is a few hundred bytes; anything far larger is not a header of ours, and is not read into memory. */
const maximumHeaderLengthInBytes = 64 * 1024;
const recordHeaderLengthInBytes = 1 + 4;
const tagLengthInBytes = 16;
const fileKeyLengthInBytes = 32;

export const defaultChunkSizeBytes = 1024 * 1024;
/** Bounds the memory one record can make the reader allocate, whatever a damaged header claims. */
export const maximumChunkSizeBytes = 16 * 1024 * 1024;

const headerSchema = z.strictObject({
  sourceKind: z.enum(backupSourceKinds),
  createdAt: z.iso.datetime(),
  chunkSizeBytes: z.number().int().min(1).max(maximumChunkSizeBytes),
  wrappedFileKey: z.strictObject({
    provider: z.enum(["local", "pkcs11"]),
    keyLabel: z.string().min(1).max(300),
    wrappedKey: z.string().min(1).max(1000),
  }),
});

function refused(reason: string, cause?: unknown): BankError {
  return new BankError("invalid_input", { internalMessage: `the backup is refused: ${reason}`, cause });
}

function nonceFor(sequence: bigint, final: boolean): Buffer {
  const nonce = Buffer.alloc(12);
  nonce.writeBigUInt64BE(sequence, 0);
  nonce.writeUInt32BE(final ? 1 : 0, 8);
  return nonce;
}

function additionalDataFor(prefixDigest: Buffer, sequence: bigint, final: boolean, length: number): Buffer {
  const data = Buffer.alloc(prefixDigest.length + 8 + 1 + 4);
  prefixDigest.copy(data, 0);
  data.writeBigUInt64BE(sequence, prefixDigest.length);
  data.writeUInt8(final ? 1 : 0, prefixDigest.length + 8);
  data.writeUInt32BE(length, prefixDigest.length + 9);
  return data;
}

function encodePrefix(header: BackupHeader): Buffer {
  const headerBytes = Buffer.from(JSON.stringify(headerSchema.parse(header)), "utf8");
  const fixed = Buffer.alloc(prefixFixedLengthInBytes);
  magic.copy(fixed, 0);
  fixed.writeUInt16BE(formatVersion, magic.length);
  fixed.writeUInt32BE(headerBytes.length, magic.length + 2);
  return Buffer.concat([fixed, headerBytes]);
}

function sealRecord(fileKey: KeyObject, prefixDigest: Buffer, sequence: bigint, final: boolean, plaintext: Buffer): Buffer {
  const cipher = createCipheriv("aes-256-gcm", fileKey, nonceFor(sequence, final));
  cipher.setAAD(additionalDataFor(prefixDigest, sequence, final, plaintext.length));
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  const recordHeader = Buffer.alloc(recordHeaderLengthInBytes);
  recordHeader.writeUInt8(final ? 1 : 0, 0);
  recordHeader.writeUInt32BE(plaintext.length, 1);
  return Buffer.concat([recordHeader, ciphertext, cipher.getAuthTag()]);
}

export interface WriteBackupOptions {
  /** Where the backup goes; an existing file is never overwritten. */
  readonly destination: string;
  /** The dump, as it streams; an error thrown by it aborts the backup and leaves no file behind. */
  readonly source: AsyncIterable<Uint8Array>;
  readonly sourceKind: BackupSourceKind;
  readonly keys: BackupKeyWrapping;
  readonly chunkSizeBytes?: number;
  readonly now?: () => Date;
}

export interface BackupSummary {
  readonly header: BackupHeader;
  readonly chunkCount: number;
  readonly plaintextBytes: number;
}

/** Refuses early (before any dump runs) when the destination exists, so that nothing is dumped for nothing. */
export async function assertDestinationFree(destination: string): Promise<void> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(destination, "r");
  } catch (error) {
    if (error instanceof Error && "code" in error && error.code === "ENOENT") return;
    throw error;
  } finally {
    await handle?.close();
  }
  throw new BankError("conflict", { internalMessage: `${destination} already exists; a backup never overwrites a file` });
}

/**
 * Encrypts `source` into a new backup file, streaming: at most one chunk of plaintext is held at a time. The
 * file is written under a temporary name (mode 0600) and appears under its real name, without overwriting
 * anything, only once the final record is on disk; a failure leaves no file.
 */
export async function writeEncryptedBackup(options: WriteBackupOptions): Promise<BackupSummary> {
  const chunkSizeBytes = options.chunkSizeBytes ?? defaultChunkSizeBytes;
  await assertDestinationFree(options.destination);
  const rawFileKey = randomBytes(fileKeyLengthInBytes);
  let fileKey: KeyObject;
  let wrappedFileKey: WrappedBackupKey;
  try {
    wrappedFileKey = await options.keys.wrapBackupKey(rawFileKey);
    fileKey = createSecretKey(rawFileKey);
  } finally {
    // The KeyObject holds its own copy; the loose bytes are wiped at once.
    rawFileKey.fill(0);
  }
  const header: BackupHeader = {
    sourceKind: options.sourceKind,
    createdAt: (options.now ?? (() => new Date()))().toISOString(),
    chunkSizeBytes,
    wrappedFileKey,
  };
  const prefix = encodePrefix(header);
  const prefixDigest = createHash("sha256").update(prefix).digest();

  const destination = path.resolve(options.destination);
  const temporaryPath = path.join(path.dirname(destination), `.${path.basename(destination)}.${randomBytes(8).toString("hex")}.partial`);
  const handle = await open(temporaryPath, "wx", 0o600);
  let chunkCount = 0;
  let plaintextBytes = 0;
  try {
    try {
      await handle.chmod(0o600);
      await handle.write(prefix);
      const pending: Buffer[] = [];
      let pendingLength = 0;
      let sequence = 0n;
      const writeRecord = async (plaintext: Buffer, final: boolean) => {
        await handle.write(sealRecord(fileKey, prefixDigest, sequence, final, plaintext));
        sequence += 1n;
        chunkCount += 1;
        plaintextBytes += plaintext.length;
      };
      for await (const piece of options.source) {
        pending.push(Buffer.from(piece.buffer, piece.byteOffset, piece.byteLength));
        pendingLength += piece.byteLength;
        // Strictly more than one chunk pending: the last (possibly full) chunk is held back until the source
        // ends, because only then is it known to be the final one.
        if (pendingLength > chunkSizeBytes) {
          // Joined once, then cut: a single large piece (PGlite hands over its dump in blocks) costs one copy.
          const joined = Buffer.concat(pending);
          let offset = 0;
          while (joined.length - offset > chunkSizeBytes) {
            await writeRecord(joined.subarray(offset, offset + chunkSizeBytes), false);
            offset += chunkSizeBytes;
          }
          pending.length = 0;
          pending.push(joined.subarray(offset));
          pendingLength = joined.length - offset;
        }
      }
      await writeRecord(Buffer.concat(pending), true);
      await handle.sync();
    } finally {
      await handle.close();
    }
    // link fails if the destination appeared meanwhile: a backup never replaces a file.
    try {
      await link(temporaryPath, destination);
    } catch (cause) {
      throw new BankError("conflict", { internalMessage: `could not create ${destination} (does it exist now?)`, cause });
    }
  } finally {
    await unlink(temporaryPath);
  }
  return { header, chunkCount, plaintextBytes };
}

/** Reads a file front to back in exact amounts, telling a clean end of file apart from a short read. */
class SequentialReader {
  private position = 0;
  constructor(private readonly handle: FileHandle) {}

  /** Exactly `length` bytes, or null when the file ends before the first of them. Throws on a partial read. */
  async read(length: number, what: string): Promise<Buffer | null> {
    const buffer = Buffer.alloc(length);
    let filled = 0;
    while (filled < length) {
      const { bytesRead } = await this.handle.read(buffer, filled, length - filled, this.position);
      if (bytesRead === 0) break;
      filled += bytesRead;
      this.position += bytesRead;
    }
    if (filled === 0 && length > 0) return null;
    if (filled < length) throw refused(`the file is truncated inside ${what}`);
    return buffer;
  }
}

async function readPrefix(reader: SequentialReader): Promise<{ header: BackupHeader; prefix: Buffer }> {
  const fixed = await reader.read(prefixFixedLengthInBytes, "the header");
  if (fixed === null || !fixed.subarray(0, magic.length).equals(magic)) {
    throw refused("it is not a Harbour Bank database backup (wrong magic bytes)");
  }
  const version = fixed.readUInt16BE(magic.length);
  if (version !== formatVersion) throw refused(`format version ${String(version)} is not supported (expected ${String(formatVersion)})`);
  const headerLength = fixed.readUInt32BE(magic.length + 2);
  if (headerLength === 0 || headerLength > maximumHeaderLengthInBytes) throw refused("the header length is out of range");
  const headerBytes = await reader.read(headerLength, "the header");
  if (headerBytes === null) throw refused("the file is truncated inside the header");
  let json: unknown;
  try {
    json = JSON.parse(headerBytes.toString("utf8"));
  } catch {
    throw refused("the header is not valid JSON");
  }
  const parsed = headerSchema.safeParse(json);
  if (!parsed.success) throw refused(`the header is invalid (${parsed.error.issues.map((issue) => issue.path.join(".")).join(", ")})`);
  return { header: parsed.data, prefix: Buffer.concat([fixed, headerBytes]) };
}

/** The header of a backup, without checking any record (the records are checked by `decryptBackup`). */
export async function readBackupHeader(filePath: string): Promise<BackupHeader> {
  const handle = await open(filePath, "r");
  try {
    return (await readPrefix(new SequentialReader(handle))).header;
  } finally {
    await handle.close();
  }
}

export interface DecryptBackupOptions {
  readonly keys: BackupKeyWrapping;
  /** When given, the header must be byte for byte this one (a second pass over a file already verified). */
  readonly expectedPrefix?: Buffer;
}

/**
 * The plaintext of a backup, chunk by chunk, each yielded only once authenticated (the final one only once
 * the end of the file is confirmed too). Throws BankError "invalid_input" on any truncation, reordering,
 * duplication, alteration or trailing data, and on keys that are not the ones the backup was made with.
 * Completing the iteration is the proof that the whole dump was read exactly as written.
 */
export async function* decryptBackup(filePath: string, options: DecryptBackupOptions): AsyncGenerator<Buffer, BackupHeader> {
  const handle = await open(filePath, "r");
  try {
    const reader = new SequentialReader(handle);
    const { header, prefix } = await readPrefix(reader);
    if (options.expectedPrefix !== undefined && !options.expectedPrefix.equals(prefix)) {
      throw refused("its header changed since it was verified");
    }
    const prefixDigest = createHash("sha256").update(prefix).digest();
    const rawFileKey = await options.keys.unwrapBackupKey(header.wrappedFileKey);
    let fileKey: KeyObject;
    try {
      if (rawFileKey.length !== fileKeyLengthInBytes) throw refused("its file key has the wrong length");
      fileKey = createSecretKey(rawFileKey);
    } finally {
      rawFileKey.fill(0);
    }

    for (let sequence = 0n; ; sequence += 1n) {
      const recordHeader = await reader.read(recordHeaderLengthInBytes, `record ${sequence.toString()}`);
      if (recordHeader === null) throw refused(`the file ends after ${sequence.toString()} records without its final record (truncated)`);
      const flag = recordHeader.readUInt8(0);
      if (flag !== 0 && flag !== 1) throw refused(`record ${sequence.toString()} has an invalid flag`);
      const final = flag === 1;
      const length = recordHeader.readUInt32BE(1);
      if (length > header.chunkSizeBytes) throw refused(`record ${sequence.toString()} is longer than the header's chunk size`);
      const body = await reader.read(length + tagLengthInBytes, `record ${sequence.toString()}`);
      if (body === null) throw refused(`the file is truncated inside record ${sequence.toString()}`);
      const decipher = createDecipheriv("aes-256-gcm", fileKey, nonceFor(sequence, final));
      decipher.setAAD(additionalDataFor(prefixDigest, sequence, final, length));
      decipher.setAuthTag(body.subarray(length));
      let plaintext: Buffer;
      try {
        plaintext = Buffer.concat([decipher.update(body.subarray(0, length)), decipher.final()]);
      } catch (cause) {
        throw refused(
          `record ${sequence.toString()} does not authenticate (altered, reordered, duplicated, or a changed header)`,
          cause,
        );
      }
      if (final) {
        if ((await reader.read(1, "trailing data")) !== null) throw refused("there is data after its final record");
        yield plaintext;
        return header;
      }
      yield plaintext;
    }
  } finally {
    await handle.close();
  }
}

/** The prefix bytes of a backup, to pin a second pass to the header the first pass verified. */
export async function readBackupPrefix(filePath: string): Promise<Buffer> {
  const handle = await open(filePath, "r");
  try {
    return (await readPrefix(new SequentialReader(handle))).prefix;
  } finally {
    await handle.close();
  }
}

export interface VerifiedBackup {
  readonly header: BackupHeader;
  readonly prefix: Buffer;
  readonly chunkCount: number;
  readonly plaintextBytes: number;
}

/**
 * A full authenticated pass over the backup that keeps nothing: every record is decrypted and dropped, or
 * handed to `onChunk` (the PGlite restore keeps the chunks in memory to load them only once all are verified).
 */
export async function verifyBackup(
  filePath: string,
  keys: BackupKeyWrapping,
  onChunk: (chunk: Buffer) => void = () => undefined,
): Promise<VerifiedBackup> {
  const prefix = await readBackupPrefix(filePath);
  let chunkCount = 0;
  let plaintextBytes = 0;
  const chunks = decryptBackup(filePath, { keys, expectedPrefix: prefix });
  for (;;) {
    const next = await chunks.next();
    if (next.done === true) return { header: next.value, prefix, chunkCount, plaintextBytes };
    chunkCount += 1;
    plaintextBytes += next.value.length;
    onChunk(next.value);
  }
}
