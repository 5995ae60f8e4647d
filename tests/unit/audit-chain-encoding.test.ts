import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  chainLinkHash,
  checkpointMessage,
  encodeAuditEvent,
  genesisHash,
  type CanonicalAuditEvent,
} from "@/lib/audit/audit-chain-encoding";

const event: CanonicalAuditEvent = {
  sequence: "42",
  writerTransaction: "1234",
  occurredAt: "2026-12-05T06:00:00.123456Z",
  actorId: "7d2b3a4e-0000-4000-8000-000000000001",
  actorRole: "customer",
  action: "ledger.transfer.posted",
  targetType: "transfer",
  targetId: "0b7c2f0e-0000-4000-8000-000000000002",
  ipAddress: "198.51.100.9",
  userAgent: "Mozilla/5.0",
  details: '{"currency": "EUR", "amountMinor": "100"}',
};

function field(value: string | null): Buffer {
  if (value === null) return Buffer.from([0]);
  const bytes = Buffer.from(value, "utf8");
  const header = Buffer.alloc(5);
  header.writeUInt8(1, 0);
  header.writeUInt32BE(bytes.length, 1);
  return Buffer.concat([header, bytes]);
}

describe("the audit chain's canonical encoding", () => {
  it("is the documented layout: domain tag, then eleven length-prefixed fields in a fixed order", () => {
    const expected = Buffer.concat(
      [
        "harbour-bank/audit-event/v1",
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
      ].map(field),
    );
    expect(encodeAuditEvent(event).equals(expected)).toBe(true);
  });

  it("computes a link's hash over the previous hash, the 8-byte position and the event", () => {
    const position = Buffer.alloc(8);
    position.writeBigUInt64BE(3n);
    const expected = createHash("sha256")
      .update(field("harbour-bank/audit-chain-link/v1"))
      .update(Buffer.alloc(32))
      .update(position)
      .update(encodeAuditEvent(event))
      .digest("hex");
    expect(chainLinkHash(genesisHash, 3n, event)).toBe(expected);
  });

  it("tells apart a null field from an empty one, and moved text between neighbouring fields", () => {
    const base = chainLinkHash(genesisHash, 1n, event);
    expect(chainLinkHash(genesisHash, 1n, { ...event, targetType: "" })).not.toBe(chainLinkHash(genesisHash, 1n, { ...event, targetType: null }));
    // "transfer" + "0b7c..." versus "transfe" + "r0b7c...": the same concatenation, different fields.
    expect(chainLinkHash(genesisHash, 1n, { ...event, targetType: "transfe", targetId: `r${event.targetId ?? ""}` })).not.toBe(base);
    expect(chainLinkHash(genesisHash, 2n, event)).not.toBe(base);
    expect(chainLinkHash("f".repeat(64), 1n, event)).not.toBe(base);
  });

  it("refuses a malformed previous hash instead of hashing something else", () => {
    expect(() => chainLinkHash("F".repeat(64), 1n, event)).toThrow(RangeError);
    expect(() => chainLinkHash("0".repeat(63), 1n, event)).toThrow(RangeError);
  });

  it("binds a checkpoint to its position, hash and time", () => {
    const at = new Date("2026-12-05T06:00:00.000Z");
    const message = checkpointMessage(7n, "a".repeat(64), at);
    expect(message.equals(checkpointMessage(7n, "a".repeat(64), at))).toBe(true);
    expect(message.equals(checkpointMessage(8n, "a".repeat(64), at))).toBe(false);
    expect(message.equals(checkpointMessage(7n, "b".repeat(64), at))).toBe(false);
    expect(message.equals(checkpointMessage(7n, "a".repeat(64), new Date(at.getTime() + 1)))).toBe(false);
  });
});
