import "server-only";
import { setTimeout as sleep } from "node:timers/promises";
import { sql } from "drizzle-orm";
import { executeRows, type Database } from "@/db/client";
import { auditCheckpoints } from "@/db/schema";
import {
  canonicalEventColumns,
  chainLinkHash,
  checkpointMessage,
  genesisHash,
  type CanonicalAuditEvent,
} from "@/lib/audit/audit-chain-encoding";
import { signAuditCheckpoint } from "@/lib/crypto";

/**
 * The audit sealer: links committed audit events into the SHA-256 chain (audit_chain_links) in sequence
 * order, in batches, seconds after they commit, so that no writer ever waits on a chain head.
 *
 * Why this is hard: `audit_events.sequence` is an identity column, and PostgreSQL hands out its values when a
 * row is inserted, not when the transaction commits. Sequence 7 can commit after sequence 8, and a transaction
 * that rolls back leaves its value unused forever. A sealer that sealed "everything visible" would skip a
 * late 7 for good (it would land behind the head); one that waited for every gap to fill would wait forever.
 *
 * How it is solved: every writer takes its transaction id before it draws a sequence value (see
 * record-audit-event.ts and the ledger's SQL functions). The sealer then
 *   1. reads the sequence's last handed-out value L,
 *   2. THEN takes a transaction id X of its own in a separate, immediately committed statement
 *      (`SELECT pg_current_xact_id()`); transaction ids are handed out in increasing order, so X is larger
 *      than the id of every transaction that drew a value <= L (each had its id before drawing, and drew
 *      before step 1),
 *   3. waits, by polling, until the oldest transaction still running is newer than X
 *      (`pg_snapshot_xmin(pg_current_snapshot()) > X`): every transaction that may hold a value <= L has
 *      then committed or rolled back.
 * Every sequence <= L is now final: an event that is not visible now never will be, so its gap is permanent,
 * and the visible ones are sealed in order after the current head.
 *
 * Why not the simpler "wait until xmin >= xmax of a snapshot taken after step 1": a snapshot's xmax is the
 * latest COMPLETED transaction id + 1, not the next id to be handed out. A writer whose id is above every
 * completed one is running but is neither in the snapshot's list nor below its xmax, and that wait ends
 * while it still holds its sequence value. The concurrency test (20 writers, two sealers) caught exactly
 * this: one committed event was left behind the head. X is a true upper bound; it costs one transaction id
 * per run (one every couple of seconds).
 *
 * Polling reads only; writers are never blocked, and the sealer's own transaction has no transaction id while
 * it waits (advisory locks and reads do not assign one), so it does not hold the horizon back itself. Note
 * the horizon is the whole server's: a long transaction in any database of the same PostgreSQL server delays
 * sealing (never writers) until it ends; the app's timer logs a warning when a run gives up waiting. The
 * sequence must keep CACHE 1 (drizzle/0000): with a cache a session could hand out a pre-allocated value
 * <= L later, under a new transaction id.
 *
 * One sealer at a time: the whole run holds a transaction-level advisory lock, and a second sealer (another
 * app instance, `npm run audit:seal`) returns "busy" at once instead of queueing. The head is read under that
 * lock; independently, the unique chain_position and the insert trigger of drizzle/0011 make a fork
 * impossible to store.
 *
 * PGlite (one connection, transactions strictly one after another): while the sealer's transaction holds the
 * connection no other transaction can be open (and X's statement has committed), so the condition of step 3
 * is already true at its first poll and the wait cannot deadlock. The sealer must not be called from inside another transaction there.
 */

// An arbitrary constant that names the sealer's advisory lock; nothing else in the bank uses advisory locks.
const sealerLockKey = 7_413_200_801n;

export interface SealOptions {
  /** The width of the sequence window read, hashed and inserted per statement (at most this many events). */
  readonly batchSize?: number;
  /** How long to wait for transactions that may still hold earlier sequence values before giving up this run. */
  readonly waitTimeoutMilliseconds?: number;
  readonly pollIntervalMilliseconds?: number;
  /**
   * Gives up the wait (answering "waiting", nothing sealed) once aborted: the app's timer aborts it at shutdown.
   * Only the wait: once sealing has begun, the run finishes.
   */
  readonly signal?: AbortSignal;
}

export type SealOutcome =
  /** Every event up to the sequence value read at the start is now sealed (possibly none were new). */
  | "sealed"
  /** Another sealer holds the lock; nothing was done. */
  | "busy"
  /** Transactions that might hold earlier sequence values were still running at the timeout; nothing sealed. */
  | "waiting";

export interface SealResult {
  readonly outcome: SealOutcome;
  readonly sealedEvents: number;
  /** The chain head after this run (null while the chain is empty). */
  readonly headPosition: bigint | null;
  readonly headHash: string | null;
}

interface ChainHead {
  readonly position: bigint;
  readonly hash: string;
  readonly sequence: bigint;
}

async function readChainHead(tx: Database): Promise<ChainHead | null> {
  const [row] = await executeRows<{ position: string; hash: string; sequence: string }>(
    tx,
    sql`SELECT chain_position::text AS position, hash, sequence::text AS sequence
          FROM audit_chain_links ORDER BY chain_position DESC LIMIT 1`,
  );
  return row ? { position: BigInt(row.position), hash: row.hash, sequence: BigInt(row.sequence) } : null;
}

/** Seals every audit event that is final (module comment), in batches; see SealResult for what it answers. */
export async function sealAuditEvents(db: Database, options: SealOptions = {}): Promise<SealResult> {
  const batchSize = options.batchSize ?? 1000;
  const waitTimeoutMilliseconds = options.waitTimeoutMilliseconds ?? 10_000;
  const pollIntervalMilliseconds = options.pollIntervalMilliseconds ?? 25;

  // Steps 1 and 2 run outside the sealing transaction, each as its own statement: X must come from a
  // transaction that has ended (the sealing transaction's own id would keep the horizon below itself for
  // as long as it waits), and it must be taken after L was read.
  const [last] = await executeRows<{ lastValue: string | null }>(
    db,
    // pg_sequence_last_value needs only the USAGE right on the sequence that inserting already requires;
    // it answers null before the first value is handed out.
    sql`SELECT pg_sequence_last_value(pg_get_serial_sequence('audit_events', 'sequence')::regclass)::text AS "lastValue"`,
  );
  const lastHandedOut = last?.lastValue ? BigInt(last.lastValue) : 0n;
  // Nothing new since the head (the idle case of the app's timer): answer without taking a transaction id.
  const headBefore = await readChainHead(db);
  if (lastHandedOut <= (headBefore?.sequence ?? 0n)) {
    return { outcome: "sealed", sealedEvents: 0, headPosition: headBefore?.position ?? null, headHash: headBefore?.hash ?? null };
  }
  const [bound] = await executeRows<{ transactionId: string }>(db, sql`SELECT pg_current_xact_id()::text AS "transactionId"`);
  if (!bound) throw new Error("pg_current_xact_id returned no row");

  return db.transaction(async (transaction) => {
    const tx = transaction as unknown as Database;
    const [lock] = await executeRows<{ locked: boolean }>(tx, sql`SELECT pg_try_advisory_xact_lock(${sealerLockKey}) AS locked`);
    if (!lock?.locked) return { outcome: "busy", sealedEvents: 0, headPosition: null, headHash: null };

    let head = await readChainHead(tx);
    const unchanged = (outcome: SealOutcome): SealResult => ({
      outcome,
      sealedEvents: 0,
      headPosition: head?.position ?? null,
      headHash: head?.hash ?? null,
    });
    if (lastHandedOut <= (head?.sequence ?? 0n)) return unchanged("sealed");

    // Step 3: wait until every transaction that may hold a sequence value <= lastHandedOut has ended.
    const deadline = Date.now() + waitTimeoutMilliseconds;
    for (;;) {
      const [state] = await executeRows<{ settled: boolean }>(
        tx,
        sql`SELECT pg_snapshot_xmin(pg_current_snapshot()) > ${bound.transactionId}::xid8 AS settled`,
      );
      if (state?.settled) break;
      if (Date.now() >= deadline || options.signal?.aborted) return unchanged("waiting");
      await sleep(pollIntervalMilliseconds);
    }

    // Batches are windows of the sequence, not "the next batchSize events after the head": with a range
    // that reaches all the way to lastHandedOut, a large backlog (or stale table statistics) makes PostgreSQL
    // read and sort the whole range once per batch, quadratic in the backlog. A window may hold fewer events
    // than its width (gaps) or none; every sequence up to lastHandedOut is final, so empty windows are skipped.
    let sealedEvents = 0;
    let windowStart = head?.sequence ?? 0n;
    while (windowStart < lastHandedOut) {
      const windowEnd = windowStart + BigInt(batchSize) < lastHandedOut ? windowStart + BigInt(batchSize) : lastHandedOut;
      const events = await executeRows<CanonicalAuditEvent & Record<string, unknown>>(
        tx,
        sql`SELECT ${canonicalEventColumns}
              FROM audit_events AS event
             WHERE event.sequence > ${windowStart.toString()}::bigint
               AND event.sequence <= ${windowEnd.toString()}::bigint
             ORDER BY event.sequence`,
      );
      windowStart = windowEnd;
      const lastEvent = events[events.length - 1];
      if (!lastEvent) continue;
      const links: { sequence: string; chain_position: string; previous_hash: string; hash: string }[] = [];
      let previousHash = head?.hash ?? genesisHash;
      let position = head?.position ?? 0n;
      for (const event of events) {
        position += 1n;
        const hash = chainLinkHash(previousHash, position, event);
        links.push({ sequence: event.sequence, chain_position: position.toString(), previous_hash: previousHash, hash });
        previousHash = hash;
      }
      // One statement per batch, the links passed as one JSON parameter (bigints as decimal strings, which the
      // record type converts exactly). The statement trigger of drizzle/0011 checks the whole batch once.
      await tx.execute(sql`
        INSERT INTO audit_chain_links (sequence, chain_position, previous_hash, hash)
        SELECT link.sequence, link.chain_position, link.previous_hash, link.hash
          FROM json_to_recordset(${JSON.stringify(links)}::json)
               AS link(sequence bigint, chain_position bigint, previous_hash text, hash text)`);
      head = { position, hash: previousHash, sequence: BigInt(lastEvent.sequence) };
      sealedEvents += events.length;
    }
    return { outcome: "sealed", sealedEvents, headPosition: head?.position ?? null, headHash: head?.hash ?? null };
  });
}

export interface CheckpointPolicy {
  /** Write a checkpoint when the head is at least this many positions past the last one... */
  readonly everyEvents: number;
  /** ...or when the last one is at least this old (and the head has moved since). */
  readonly everySeconds: number;
}

export type CheckpointSigner = (message: Buffer) => Promise<Buffer>;

/**
 * Stores a signed checkpoint of the current chain head when the policy says one is due (always, with
 * `policy` "now", as long as the head has moved since the last checkpoint); answers the new checkpoint's
 * position or null. Runs outside the sealer's transaction on purpose: the HSM call must never hold the
 * database (on PGlite, holding it while a key provider needed it would hang), and a checkpoint needs no lock:
 * it names a link that already exists (foreign key) and signs that link's hash, so two checkpoints written at
 * once are merely redundant.
 */
export async function writeAuditCheckpointIfDue(
  db: Database,
  policy: CheckpointPolicy | "now",
  sign: CheckpointSigner = signAuditCheckpoint,
): Promise<bigint | null> {
  const [state] = await executeRows<{ headPosition: string | null; headHash: string | null; lastPosition: string | null; lastAt: string | null }>(
    db,
    sql`SELECT head.chain_position::text AS "headPosition", head.hash AS "headHash",
               last.chain_position::text AS "lastPosition",
               (extract(epoch FROM last.created_at) * 1000)::bigint::text AS "lastAt"
          FROM (SELECT 1) AS anchor
          LEFT JOIN LATERAL (SELECT chain_position, hash FROM audit_chain_links ORDER BY chain_position DESC LIMIT 1) AS head ON true
          LEFT JOIN LATERAL (SELECT chain_position, created_at FROM audit_checkpoints ORDER BY id DESC LIMIT 1) AS last ON true`,
  );
  if (!state?.headPosition || !state.headHash) return null;
  const headPosition = BigInt(state.headPosition);
  const lastPosition = state.lastPosition === null ? 0n : BigInt(state.lastPosition);
  if (headPosition <= lastPosition) return null;
  if (policy !== "now") {
    const eventsSince = headPosition - lastPosition;
    const secondsSince = state.lastAt === null ? Number.POSITIVE_INFINITY : (Date.now() - Number(state.lastAt)) / 1000;
    if (eventsSince < BigInt(policy.everyEvents) && secondsSince < policy.everySeconds) return null;
  }
  const createdAt = new Date();
  const signature = await sign(checkpointMessage(headPosition, state.headHash, createdAt));
  if (signature.length !== 32) throw new Error("the audit checkpoint signature is not an HMAC-SHA256");
  await db.insert(auditCheckpoints).values({
    chainPosition: headPosition,
    hash: state.headHash,
    createdAt,
    signature: signature.toString("hex"),
  });
  return headPosition;
}
