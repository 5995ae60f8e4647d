import { randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decryptBackup, verifyBackup, writeEncryptedBackup, type BackupKeyWrapping } from "@/lib/backup/backup-format";
import { createKeyringFile, generateKeyring } from "@/lib/crypto/keyring-format";
import { addBackupKeyIfMissing } from "@/lib/crypto/keyring-upgrade";
import { createLocalKeyring } from "@/lib/crypto/local-keyring";
import { BankError } from "@/lib/errors";
import { backupLayout, recordAt } from "../helpers/backup-layout";

/**
 * The encrypted backup format on its own, with real keyrings: what goes in comes out, and every kind of damage
 * to the file (truncation, reordering, duplication, a flipped bit in the header or in a chunk, trailing data)
 * is refused. Small chunks make reordering meaningful.
 */
const chunkSizeBytes = 1024;
let root: string;
let keys: BackupKeyWrapping;
let otherKeys: BackupKeyWrapping;
let keyringPath: string;

beforeAll(async () => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), "bank-backup-format-"));
  keyringPath = path.join(root, "keys", "keyring.json");
  await createKeyringFile(keyringPath);
  const otherPath = path.join(root, "other-keys", "keyring.json");
  await createKeyringFile(otherPath);
  keys = createLocalKeyring(keyringPath);
  otherKeys = createLocalKeyring(otherPath);
});

afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

async function* piecesOf(data: Buffer, pieceSize = 333): AsyncGenerator<Buffer> {
  for (let offset = 0; offset < data.length; offset += pieceSize) yield data.subarray(offset, offset + pieceSize);
}

let fileNumber = 0;
function freshPath(): string {
  fileNumber += 1;
  return path.join(root, `backup-${String(fileNumber)}.bin`);
}

async function backupOf(data: Buffer, options: { keys?: BackupKeyWrapping } = {}): Promise<string> {
  const destination = freshPath();
  await writeEncryptedBackup({ destination, source: piecesOf(data), sourceKind: "postgres-plain-sql", keys: options.keys ?? keys, chunkSizeBytes });
  return destination;
}

async function plaintextOf(filePath: string, withKeys: BackupKeyWrapping = keys): Promise<Buffer> {
  const chunks: Buffer[] = [];
  await verifyBackup(filePath, withKeys, (chunk) => chunks.push(chunk));
  return Buffer.concat(chunks);
}

function writeVariant(bytes: Buffer): string {
  const destination = freshPath();
  fs.writeFileSync(destination, bytes, { mode: 0o600 });
  return destination;
}

async function refusal(filePath: string, withKeys: BackupKeyWrapping = keys): Promise<BankError> {
  const error = await verifyBackup(filePath, withKeys).then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(BankError);
  return error as BankError;
}

describe("the encrypted backup format", () => {
  const data = randomBytes(10 * chunkSizeBytes + 123);

  it("round-trips a dump streamed in pieces of another size, in chunks of the header's size, mode 0600", async () => {
    const filePath = await backupOf(data);
    expect(await plaintextOf(filePath)).toEqual(data);
    expect(fs.statSync(filePath).mode & 0o777).toBe(0o600);
    const { records } = backupLayout(filePath);
    expect(records).toHaveLength(11);
    // Only the last record carries the final flag.
    expect(records.map((record) => record.readUInt8(0))).toEqual([...Array<number>(10).fill(0), 1]);
    // No temporary file is left next to it.
    expect(fs.readdirSync(root).filter((name) => name.endsWith(".partial"))).toEqual([]);
  });

  it("cuts a single large piece into chunks of the header's size", async () => {
    const destination = freshPath();
    await writeEncryptedBackup({ destination, source: piecesOf(data, data.length), sourceKind: "postgres-plain-sql", keys, chunkSizeBytes });
    const { records } = backupLayout(destination);
    expect(records.map((record) => record.readUInt32BE(1))).toEqual([...Array<number>(10).fill(chunkSizeBytes), 123]);
    expect(await plaintextOf(destination)).toEqual(data);
  });

  it("round-trips an empty dump and one of exactly two chunks", async () => {
    expect(await plaintextOf(await backupOf(Buffer.alloc(0)))).toEqual(Buffer.alloc(0));
    const twoChunks = randomBytes(2 * chunkSizeBytes);
    const filePath = await backupOf(twoChunks);
    expect(backupLayout(filePath).records).toHaveLength(2);
    expect(await plaintextOf(filePath)).toEqual(twoChunks);
  });

  it("never shows the plaintext or the file key in the file", async () => {
    const marker = "national-identifier QQ123456C ";
    const filePath = await backupOf(Buffer.from(marker.repeat(200)));
    const raw = fs.readFileSync(filePath);
    expect(raw.includes(Buffer.from("QQ123456C"))).toBe(false);
    expect(raw.toString("latin1")).toContain("keyring-backup-key:");
  });

  it("refuses a file cut before its final record, inside a record, or inside the header", async () => {
    const filePath = await backupOf(data);
    const layout = backupLayout(filePath);
    const { prefix, records } = layout;
    const withoutFinal = Buffer.concat([prefix, ...records.slice(0, -1)]);
    expect((await refusal(writeVariant(withoutFinal))).message).toMatch(/without its final record \(truncated\)/);
    const cutInside = fs.readFileSync(filePath).subarray(0, prefix.length + recordAt(layout, 0).length + 100);
    expect((await refusal(writeVariant(cutInside))).message).toMatch(/truncated inside record 1/);
    expect((await refusal(writeVariant(prefix.subarray(0, prefix.length - 5)))).message).toMatch(/truncated inside the header/);
    expect((await refusal(writeVariant(prefix))).message).toMatch(/without its final record/);
  });

  it("refuses two chunks swapped, a chunk duplicated, and a chunk dropped from the middle", async () => {
    const layout = backupLayout(await backupOf(data));
    const { prefix, records } = layout;
    const swapped = [recordAt(layout, 0), recordAt(layout, 2), recordAt(layout, 1), ...records.slice(3)];
    expect((await refusal(writeVariant(Buffer.concat([prefix, ...swapped])))).message).toMatch(/record 1 does not authenticate/);
    const duplicated = [recordAt(layout, 0), recordAt(layout, 1), recordAt(layout, 1), ...records.slice(2)];
    expect((await refusal(writeVariant(Buffer.concat([prefix, ...duplicated])))).message).toMatch(/record 2 does not authenticate/);
    const dropped = [recordAt(layout, 0), ...records.slice(2)];
    expect((await refusal(writeVariant(Buffer.concat([prefix, ...dropped])))).message).toMatch(/record 1 does not authenticate/);
  });

  it("refuses a bit flipped in the header, in a chunk, in a tag or in a final flag, and data after the end", async () => {
    const filePath = await backupOf(data);
    const original = fs.readFileSync(filePath);
    const { prefix, records } = backupLayout(filePath);
    const flipped = (offset: number) => {
      const copy = Buffer.from(original);
      copy.writeUInt8(copy.readUInt8(offset) ^ 0x01, offset);
      return writeVariant(copy);
    };
    // A digit of the creation time: still a valid header, but every record is bound to the old one.
    const createdAtDigit = prefix.indexOf(Buffer.from('"createdAt":"20')) + '"createdAt":"20'.length;
    expect((await refusal(flipped(createdAtDigit))).message).toMatch(/record 0 does not authenticate/);
    // A byte of the wrapped file key: the key does not unwrap.
    const wrappedKeyByte = prefix.indexOf(Buffer.from('"wrappedKey":"aes-256-gcm:')) + 30;
    expect((await refusal(flipped(wrappedKeyByte))).message).toMatch(/wrapped file key/);
    // The magic bytes.
    expect((await refusal(flipped(0))).message).toMatch(/not a Harbour Bank database backup/);
    // Ciphertext in the middle of record 3, and the last byte of record 5 (its tag).
    const recordStart = (index: number) => prefix.length + records.slice(0, index).reduce((sum, record) => sum + record.length, 0);
    expect((await refusal(flipped(recordStart(3) + 5 + 200))).message).toMatch(/record 3 does not authenticate/);
    expect((await refusal(flipped(recordStart(6) - 1))).message).toMatch(/record 5 does not authenticate/);
    // Record 4 claims to be the final one and the file is cut after it.
    const forgedFinal = Buffer.concat([prefix, ...records.slice(0, 5)]);
    forgedFinal[recordStart(4)] = 1;
    expect((await refusal(writeVariant(forgedFinal))).message).toMatch(/record 4 does not authenticate/);
    expect((await refusal(writeVariant(Buffer.concat([original, Buffer.from("x")])))).message).toMatch(/data after its final record/);
  });

  it("delivers nothing of a chunk that fails, and completes only at the verified end", async () => {
    const filePath = await backupOf(data);
    const copy = fs.readFileSync(filePath);
    copy.writeUInt8(copy.readUInt8(copy.length - 1) ^ 0x80, copy.length - 1);
    const delivered: Buffer[] = [];
    const iteration = (async () => {
      for await (const chunk of decryptBackup(writeVariant(copy), { keys })) delivered.push(chunk);
    })();
    await expect(iteration).rejects.toThrow(/record 10 does not authenticate/);
    // The ten verified chunks came out, the damaged final one did not.
    expect(Buffer.concat(delivered)).toEqual(data.subarray(0, 10 * chunkSizeBytes));
  });

  it("refuses another keyring with a message naming both keys", async () => {
    const filePath = await backupOf(data);
    const error = await refusal(filePath, otherKeys);
    expect(error.message).toMatch(/wrapped by local key "keyring-backup-key:[0-9a-f]{16}", but the configured keyring .* holds "keyring-backup-key:[0-9a-f]{16}"/);
    // And the backup still restores with its own keyring.
    expect(await plaintextOf(filePath)).toEqual(data);
  });

  it("never overwrites an existing file, and leaves no file when the dump fails", async () => {
    const destination = freshPath();
    fs.writeFileSync(destination, "keep me");
    await expect(
      writeEncryptedBackup({ destination, source: piecesOf(data), sourceKind: "postgres-plain-sql", keys, chunkSizeBytes }),
    ).rejects.toThrow(/already exists/);
    expect(fs.readFileSync(destination, "utf8")).toBe("keep me");

    const failing = freshPath();
    async function* failsHalfWay(): AsyncGenerator<Buffer> {
      yield data.subarray(0, 5 * chunkSizeBytes);
      throw new Error("pg_dump failed");
    }
    await expect(writeEncryptedBackup({ destination: failing, source: failsHalfWay(), sourceKind: "postgres-plain-sql", keys, chunkSizeBytes })).rejects.toThrow(
      /pg_dump failed/,
    );
    expect(fs.existsSync(failing)).toBe(false);
    expect(fs.readdirSync(root).filter((name) => name.endsWith(".partial"))).toEqual([]);
  });
});

describe("the keyring's backup key", () => {
  it("is added to a keyring made before backups, keeping every other key, and is never replaced", async () => {
    const { backupKey, ...older } = generateKeyring();
    expect(backupKey).toBeDefined();
    const filePath = path.join(root, "older", "keyring.json");
    await createKeyringFile(filePath, older);
    await expect(createLocalKeyring(filePath).wrapBackupKey(randomBytes(32))).rejects.toThrow(/has no backup key .* scripts\/init-keyring\.ts/);

    expect(await addBackupKeyIfMissing(filePath)).toBe("backup-key-added");
    const upgraded = JSON.parse(fs.readFileSync(filePath, "utf8")) as typeof older & { backupKey: string };
    expect({ ...upgraded, backupKey: undefined }).toEqual({ ...older, backupKey: undefined });
    expect(Buffer.from(upgraded.backupKey, "base64")).toHaveLength(32);
    expect(fs.statSync(filePath).mode & 0o777).toBe(0o600);

    const wrapped = await createLocalKeyring(filePath).wrapBackupKey(Buffer.alloc(32, 7));
    expect(await addBackupKeyIfMissing(filePath)).toBe("up-to-date");
    expect(await createLocalKeyring(filePath).unwrapBackupKey(wrapped)).toEqual(Buffer.alloc(32, 7));
  });
});
