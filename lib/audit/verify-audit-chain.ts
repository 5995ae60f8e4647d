import "server-only";
import { timingSafeEqual } from "node:crypto";
import { sql } from "drizzle-orm";
import { executeRows, type Queryable } from "@/db/client";
import {
  canonicalEventColumns,
  chainLinkHash,
  checkpointMessage,
  genesisHash,
  type CanonicalAuditEvent,
} from "@/lib/audit/audit-chain-encoding";
import type { CheckpointSigner } from "@/lib/audit/seal-audit-events";
import { signAuditCheckpoint } from "@/lib/crypto";

/**
 * Verifies the audit chain from its first link to its head: every link's event is recomputed into its hash
 * (audit-chain-encoding.ts), every link must follow the one before it, no event may sit unlinked inside the
 * sealed range, and every checkpoint must carry a valid signature over the hash the recomputed chain has at
 * its position. Reads only; the back office can show the DTO it answers.
 *
 * What each problem means:
 * - event_altered: the event's stored fields no longer hash to its link (someone changed the row).
 * - event_deleted: a link names an event that is no longer there.
 * - link_missing: the chain skips a position (a link row was deleted).
 * - link_broken: a link does not name the previous link's hash, or goes backwards in sequence order (a link
 *   row was changed, or links were re-inserted out of order).
 * - event_not_in_chain: an event inside the sealed range has no link (inserted into history afterwards).
 * - checkpoint_mismatch: a signed checkpoint names another hash than the recomputed chain at its position
 *   (the chain was rewritten consistently, by someone without the checkpoint key).
 * - checkpoint_bad_signature: a checkpoint's signature is not the key's (a checkpoint was forged or altered).
 * - checkpoint_beyond_head: a checkpoint names a position the chain no longer reaches (links were removed).
 */
export type AuditChainProblem =
  | "event_altered"
  | "event_deleted"
  | "link_missing"
  | "link_broken"
  | "event_not_in_chain"
  | "checkpoint_mismatch"
  | "checkpoint_bad_signature"
  | "checkpoint_beyond_head";

export type AuditChainVerification =
  | {
      readonly ok: true;
      readonly sealedEvents: number;
      /** The hash of the chain's head, or null while nothing is sealed. */
      readonly headHash: string | null;
      readonly checkpointsVerified: number;
      /** Events newer than the head: written, not sealed yet (normal for a few seconds). */
      readonly unsealedEvents: number;
    }
  | {
      readonly ok: false;
      readonly problem: AuditChainProblem;
      /** Where the chain is broken (decimal strings: bigint positions and sequences). */
      readonly chainPosition: string;
      readonly sequence: string | null;
      readonly checkpointId: string | null;
      /** One sentence for an operator; names positions and sequences only, never event contents. */
      readonly message: string;
      readonly unsealedEvents: number;
    };

const pageSize = 1000;

interface LinkRow extends Record<string, unknown> {
  readonly linkPosition: string;
  readonly linkSequence: string;
  readonly linkPreviousHash: string;
  readonly linkHash: string;
  readonly eventPresent: boolean;
}

interface CheckpointRow extends Record<string, unknown> {
  readonly id: string;
  readonly position: string;
  readonly hash: string;
  readonly createdAtMilliseconds: string;
  readonly signature: string;
}

export async function verifyAuditChain(
  db: Queryable,
  sign: CheckpointSigner = signAuditCheckpoint,
): Promise<AuditChainVerification> {
  const checkpoints = await executeRows<CheckpointRow>(
    db,
    sql`SELECT id::text AS id, chain_position::text AS position, hash,
               (extract(epoch FROM created_at) * 1000)::bigint::text AS "createdAtMilliseconds", signature
          FROM audit_checkpoints ORDER BY chain_position, id`,
  );
  let nextCheckpoint = 0;

  // Events newer than the stored head link are counted in the answer whatever the outcome (a break found
  // earlier in the chain does not make later sealed events "unsealed").
  const unsealedEvents = async (): Promise<number> => {
    const [row] = await executeRows<{ count: string }>(
      db,
      sql`SELECT count(*)::text AS count FROM audit_events
           WHERE sequence > coalesce((SELECT sequence FROM audit_chain_links ORDER BY chain_position DESC LIMIT 1), 0)`,
    );
    return Number(row?.count ?? 0);
  };
  const failure = async (
    problem: AuditChainProblem,
    position: bigint,
    sequence: string | null,
    message: string,
    checkpointId: string | null = null,
  ): Promise<AuditChainVerification> => ({
    ok: false,
    problem,
    chainPosition: position.toString(),
    sequence,
    checkpointId,
    message,
    unsealedEvents: await unsealedEvents(),
  });

  let previousHash = genesisHash;
  let previousSequence = 0n;
  let expectedPosition = 1n;
  let checkpointsVerified = 0;

  for (;;) {
    const rows = await executeRows<LinkRow & Partial<CanonicalAuditEvent>>(
      db,
      sql`SELECT link.chain_position::text AS "linkPosition", link.sequence::text AS "linkSequence",
                 link.previous_hash AS "linkPreviousHash", link.hash AS "linkHash",
                 event.sequence IS NOT NULL AS "eventPresent", ${canonicalEventColumns}
            FROM audit_chain_links AS link
            LEFT JOIN audit_events AS event ON event.sequence = link.sequence
           WHERE link.chain_position >= ${expectedPosition.toString()}::bigint
           ORDER BY link.chain_position
           LIMIT ${pageSize}`,
    );
    for (const row of rows) {
      const position = BigInt(row.linkPosition);
      const sequence = BigInt(row.linkSequence);
      if (position !== expectedPosition) {
        return failure("link_missing", expectedPosition, null,
          `the chain has no link at position ${expectedPosition} (the next link is at ${position})`);
      }
      if (row.linkPreviousHash !== previousHash || sequence <= previousSequence) {
        return failure("link_broken", position, row.linkSequence,
          `the link at position ${position} (sequence ${sequence}) does not follow the link before it`);
      }
      if (!row.eventPresent) {
        return failure("event_deleted", position, row.linkSequence,
          `the event with sequence ${sequence}, sealed at position ${position}, has been deleted`);
      }
      const recomputed = chainLinkHash(previousHash, position, row as unknown as CanonicalAuditEvent);
      if (recomputed !== row.linkHash) {
        return failure("event_altered", position, row.linkSequence,
          `the event with sequence ${sequence}, sealed at position ${position}, has been altered`);
      }
      // Checkpoints at this position are checked against the recomputed hash, in chain order, so that the
      // first problem reported is the earliest one in the chain.
      for (;;) {
        const checkpoint = checkpoints[nextCheckpoint];
        if (checkpoint === undefined || BigInt(checkpoint.position) !== position) break;
        nextCheckpoint += 1;
        const expected = await sign(checkpointMessage(position, checkpoint.hash, new Date(Number(checkpoint.createdAtMilliseconds))));
        const stored = Buffer.from(checkpoint.signature, "hex");
        if (stored.length !== expected.length || !timingSafeEqual(stored, expected)) {
          return failure("checkpoint_bad_signature", position, row.linkSequence,
            `checkpoint ${checkpoint.id} at position ${position} does not carry a valid signature`, checkpoint.id);
        }
        if (checkpoint.hash !== recomputed) {
          return failure("checkpoint_mismatch", position, row.linkSequence,
            `checkpoint ${checkpoint.id} at position ${position} does not match the chain: history up to ` +
              `sequence ${sequence} has been rewritten`, checkpoint.id);
        }
        checkpointsVerified += 1;
      }
      previousHash = recomputed;
      previousSequence = sequence;
      expectedPosition = position + 1n;
    }
    if (rows.length < pageSize) break;
  }

  const headPosition = expectedPosition - 1n;
  const beyond = checkpoints[nextCheckpoint];
  if (beyond !== undefined) {
    return failure("checkpoint_beyond_head", BigInt(beyond.position), null,
      `checkpoint ${beyond.id} names position ${beyond.position}, but the chain ends at ${headPosition}: links were removed`,
      beyond.id);
  }

  const [unlinked] = await executeRows<{ sequence: string | null }>(
    db,
    sql`SELECT min(event.sequence)::text AS sequence
          FROM audit_events AS event
          LEFT JOIN audit_chain_links AS link ON link.sequence = event.sequence
         WHERE link.sequence IS NULL AND event.sequence <= ${previousSequence.toString()}::bigint`,
  );
  if (unlinked?.sequence) {
    // Reported at the position right after the last link sealed before it.
    const [before] = await executeRows<{ position: string | null }>(
      db,
      sql`SELECT max(chain_position)::text AS position FROM audit_chain_links WHERE sequence < ${unlinked.sequence}::bigint`,
    );
    const position = (before?.position ? BigInt(before.position) : 0n) + 1n;
    return failure("event_not_in_chain", position, unlinked.sequence,
      `the event with sequence ${unlinked.sequence} lies inside the sealed history but is not in the chain`);
  }

  return {
    ok: true,
    sealedEvents: Number(headPosition),
    headHash: headPosition === 0n ? null : previousHash,
    checkpointsVerified,
    unsealedEvents: await unsealedEvents(),
  };
}
