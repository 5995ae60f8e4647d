import "server-only";
import { createHash } from "node:crypto";
import { sql } from "drizzle-orm";

/**
 * The canonical encoding of an audit event and the hashes of the audit chain. The sealer and the verifier both
 * use only this module, so they cannot disagree about a byte.
 *
 * Every field is read from PostgreSQL as text in a fixed format (`canonicalEventColumns` below), never through
 * a driver's own conversion, because drivers differ (a JS Date drops microseconds, a jsonb value comes back as
 * a parsed object) and a verifier must reproduce the bytes exactly:
 *
 *   sequence            decimal digits, no sign or leading zeros (bigint::text)
 *   writer_transaction  decimal digits (xid8::text), or null for events written before the chain existed
 *   occurred_at         UTC, `YYYY-MM-DDTHH:MM:SS.ffffffZ` (always six fraction digits)
 *   actor_id            lowercase hyphenated UUID (uuid::text), or null
 *   actor_role, action, target_type, target_id, ip_address, user_agent   the stored text, or null
 *   details             PostgreSQL's jsonb text output, which is canonical by construction: object keys are
 *                       stored sorted (shorter first, then bytewise) without duplicates, and printed with ", "
 *                       and ": " separators, numbers exactly as stored. Two jsonb values print the same text
 *                       if and only if they are equal.
 *
 * The encoding of an event is a domain tag followed by those eleven fields in that order, each written as one
 * marker byte (0x00 for SQL NULL, then nothing; 0x01 for a value) and, for a value, its UTF-8 length as a
 * 4-byte big-endian unsigned integer followed by the UTF-8 bytes. Length prefixes make the encoding
 * injective: no choice of field contents can make two different events encode to the same bytes, which a
 * separator character could not promise for free text such as a user agent.
 *
 * A link's hash is SHA-256 over: the link domain tag (length-prefixed like a field), the previous link's hash
 * as 32 raw bytes (32 zero bytes before position 1), the chain position as an 8-byte big-endian unsigned
 * integer, and the event's encoding. Hashes are stored as 64 lowercase hex characters.
 *
 * A checkpoint signs (HMAC-SHA256 with the key provider's audit-checkpoint key) the checkpoint domain tag, the
 * position (8 bytes big-endian), the head hash (32 raw bytes) and the checkpoint's time in milliseconds since
 * the epoch (8 bytes big-endian).
 */

const eventDomain = "harbour-bank/audit-event/v1";
const linkDomain = "harbour-bank/audit-chain-link/v1";
const checkpointDomain = "harbour-bank/audit-checkpoint/v1";

/** The hash a chain starts from: position 1 names it as its previous hash. */
export const genesisHash = "0".repeat(64);

/** One audit event exactly as the canonical encoding sees it: every field as PostgreSQL's text, or null. */
export interface CanonicalAuditEvent {
  readonly sequence: string;
  readonly writerTransaction: string | null;
  readonly occurredAt: string;
  readonly actorId: string | null;
  readonly actorRole: string | null;
  readonly action: string;
  readonly targetType: string | null;
  readonly targetId: string | null;
  readonly ipAddress: string | null;
  readonly userAgent: string | null;
  readonly details: string;
}

/**
 * The select list that reads an `audit_events` row (aliased `event`) as a CanonicalAuditEvent. A constant
 * fragment: no value is ever interpolated into it.
 */
export const canonicalEventColumns = sql`
  event.sequence::text AS "sequence",
  event.writer_transaction::text AS "writerTransaction",
  to_char(event.occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS "occurredAt",
  event.actor_id::text AS "actorId",
  event.actor_role AS "actorRole",
  event.action AS "action",
  event.target_type AS "targetType",
  event.target_id AS "targetId",
  event.ip_address AS "ipAddress",
  event.user_agent AS "userAgent",
  event.details::text AS "details"`;

function lengthPrefixed(value: string | null): Buffer {
  if (value === null) return Buffer.from([0]);
  const bytes = Buffer.from(value, "utf8");
  const header = Buffer.alloc(5);
  header.writeUInt8(1, 0);
  header.writeUInt32BE(bytes.length, 1);
  return Buffer.concat([header, bytes]);
}

function unsigned64(value: bigint): Buffer {
  if (value < 0n || value >= 1n << 64n) throw new RangeError("value does not fit an unsigned 64-bit integer");
  const bytes = Buffer.alloc(8);
  bytes.writeBigUInt64BE(value);
  return bytes;
}

const hexHashPattern = /^[0-9a-f]{64}$/;

function hashBytes(hexHash: string): Buffer {
  if (!hexHashPattern.test(hexHash)) throw new RangeError("a chain hash is 64 lowercase hex characters");
  return Buffer.from(hexHash, "hex");
}

function eventFields(event: CanonicalAuditEvent): readonly (string | null)[] {
  return [
    eventDomain,
    event.sequence,
    event.writerTransaction,
    event.occurredAt,
    event.actorId,
    event.actorRole,
    event.action,
    event.targetType,
    event.targetId,
    event.ipAddress,
    event.userAgent,
    event.details,
  ];
}

/**
 * Writes the length-prefixed fields into one buffer. The sealer hashes every event the bank records, so this
 * runs once per transfer: one allocation and direct writes instead of two small buffers and a copy per field
 * (which made the encoding, not SHA-256, most of the sealer's Node time). The bytes are exactly those of
 * `lengthPrefixed` applied to each field in turn.
 */
function writeLengthPrefixedFields(fields: readonly (string | null)[], prefix: Buffer | null): Buffer {
  let size = prefix?.length ?? 0;
  for (const field of fields) size += field === null ? 1 : 5 + Buffer.byteLength(field, "utf8");
  const bytes = Buffer.allocUnsafe(size);
  let offset = 0;
  if (prefix) offset += prefix.copy(bytes, 0);
  for (const field of fields) {
    if (field === null) {
      offset = bytes.writeUInt8(0, offset);
      continue;
    }
    offset = bytes.writeUInt8(1, offset);
    const length = bytes.write(field, offset + 4, "utf8");
    bytes.writeUInt32BE(length, offset);
    offset += 4 + length;
  }
  if (offset !== size) throw new Error("the canonical encoding wrote an unexpected number of bytes");
  return bytes;
}

/** The canonical bytes of one event (see the module comment). */
export function encodeAuditEvent(event: CanonicalAuditEvent): Buffer {
  return writeLengthPrefixedFields(eventFields(event), null);
}

const linkDomainPrefix = lengthPrefixed(linkDomain);

/** The hash of the link at `chainPosition` that seals `event` after `previousHash`, as lowercase hex. */
export function chainLinkHash(previousHash: string, chainPosition: bigint, event: CanonicalAuditEvent): string {
  // One buffer for the whole message: link domain, previous hash, position, then the event's encoding.
  const head = Buffer.concat([linkDomainPrefix, hashBytes(previousHash), unsigned64(chainPosition)]);
  return createHash("sha256").update(writeLengthPrefixedFields(eventFields(event), head)).digest("hex");
}

/** The bytes a checkpoint's HMAC covers. */
export function checkpointMessage(chainPosition: bigint, hash: string, createdAt: Date): Buffer {
  const milliseconds = createdAt.getTime();
  if (!Number.isSafeInteger(milliseconds) || milliseconds < 0) throw new RangeError("invalid checkpoint time");
  return Buffer.concat([
    lengthPrefixed(checkpointDomain),
    unsigned64(chainPosition),
    hashBytes(hash),
    unsigned64(BigInt(milliseconds)),
  ]);
}
