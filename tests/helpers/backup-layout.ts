/**
 * Splits an encrypted backup file into its prefix (magic, version, header) and its records, following the
 * format documented in lib/backup/backup-format.ts, so that tests can cut, swap, duplicate and flip them.
 */
import fs from "node:fs";

export interface BackupLayout {
  readonly bytes: Buffer;
  readonly prefix: Buffer;
  readonly records: Buffer[];
}

export function backupLayout(filePath: string): BackupLayout {
  const bytes = fs.readFileSync(filePath);
  const prefixLength = 8 + 2 + 4 + bytes.readUInt32BE(10);
  const records: Buffer[] = [];
  let offset = prefixLength;
  while (offset < bytes.length) {
    const length = bytes.readUInt32BE(offset + 1);
    records.push(bytes.subarray(offset, offset + 5 + length + 16));
    offset += 5 + length + 16;
  }
  return { bytes, prefix: bytes.subarray(0, prefixLength), records };
}

/** The record at `index`, or a thrown error (a test that asks for a missing record is wrong). */
export function recordAt(layout: BackupLayout, index: number): Buffer {
  const record = layout.records[index];
  if (record === undefined) throw new Error(`the backup has no record ${String(index)}`);
  return record;
}

/** A copy of `bytes` with one bit of the byte at `offset` flipped. */
export function withBitFlipped(bytes: Buffer, offset: number): Buffer {
  const copy = Buffer.from(bytes);
  copy.writeUInt8(copy.readUInt8(offset) ^ 0x01, offset);
  return copy;
}
