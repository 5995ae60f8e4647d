/**
 * The tamper-evident audit chain on the real databases: sealing (lib/audit/seal-audit-events.ts), verification
 * (lib/audit/verify-audit-chain.ts and `npm run audit:verify`), and tampering done the way a database
 * superuser would do it, with the append-only triggers disabled. Concurrency runs on PostgreSQL only (PGlite
 * is one connection); the checkpoint key in a real SoftHSM2 token is tested on both.
 */
import { execFile } from "node:child_process";
import crypto from "node:crypto";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { closeDatabase, database, databaseHandle, executeRows, openDatabase, type Database, type DatabaseHandle } from "@/db/client";
import { applyMigrations } from "@/db/migrations";
import { canonicalEventColumns, chainLinkHash, genesisHash, type CanonicalAuditEvent } from "@/lib/audit/audit-chain-encoding";
import { recordAuditEvent } from "@/lib/audit/record-audit-event";
import { sealAuditEvents, writeAuditCheckpointIfDue } from "@/lib/audit/seal-audit-events";
import { verifyAuditChain, type AuditChainVerification } from "@/lib/audit/verify-audit-chain";
import { configuredDataKeyStore } from "@/lib/crypto/data-key-store";
import { createPkcs11Provider, type Pkcs11KeyProvider } from "@/lib/crypto/pkcs11-provider";
import {
  closeSessionQuietly,
  defaultAuditCheckpointKeyLabel,
  findSecretKey,
  findSlotByLabel,
  loadedModule,
  openUserSession,
} from "@/lib/crypto/pkcs11-token";
import { postCustomerTransfer } from "@/lib/ledger/post-transfer";
import { parseTransferRequest } from "@/lib/validation/transfer";
import { KeyGenMechanism, KeyType, ObjectClass } from "graphene-pk11";
import { databaseFailureOf, queryRows, sqlState } from "../helpers/database-queries";
import { useIntegrationEnvironment } from "../helpers/integration-environment";
import { createTestCustomer, openFundedAccount } from "../helpers/ledger-fixtures";
import { testKeyLabels, useSoftHsm, type TestToken } from "../helpers/softhsm-token";

const environment = useIntegrationEnvironment();
const softHsm = useSoftHsm();
const onPostgres = process.env.INTEGRATION_DATABASE === "postgres";
const repositoryRoot = path.resolve(import.meta.dirname, "../..");
const runFile = promisify(execFile);

/**
 * The attacker of these tests is a database superuser. On PostgreSQL the app (database()) connects as this
 * file's restricted runtime role, which may not disable a trigger at all, so the tampering goes through the
 * test server's superuser, connected to this file's database; PGlite has one all-powerful user.
 */
let superuserHandle: DatabaseHandle | undefined;
function superuserDatabase(): Database {
  const adminDatabaseUrl = environment().adminDatabaseUrl;
  if (!onPostgres || !adminDatabaseUrl) return database();
  superuserHandle ??= openDatabase({ databaseUrl: adminDatabaseUrl, pgliteDirectory: "unused", maxConnections: 1 });
  return superuserHandle.db;
}
afterAll(async () => {
  await superuserHandle?.close();
});

/** Thrown inside a transaction to roll back whatever the "attacker" did once the verifier has looked at it. */
class RollBack extends Error {}

async function writeEvents(count: number, label: string): Promise<void> {
  for (let index = 0; index < count; index += 1) {
    await database().transaction(async (tx) => {
      await recordAuditEvent(tx, {
        actorId: null,
        actorRole: "system",
        action: "test.audit_chain.event",
        targetType: "test",
        targetId: `${label}-${index}`,
        ipAddress: "192.0.2.7",
        userAgent: "audit-chain-test",
        details: { label, index, even: index % 2 === 0 },
      });
    });
  }
}

async function sealEverything(db: Database = database()) {
  const result = await sealAuditEvents(db, { batchSize: 64, waitTimeoutMilliseconds: 5_000 });
  expect(result.outcome).toBe("sealed");
  return result;
}

async function verified(): Promise<Extract<AuditChainVerification, { ok: true }>> {
  const result = await verifyAuditChain(database());
  if (!result.ok) throw new Error(`expected a sound chain, got ${result.problem}: ${result.message}`);
  return result;
}

/** The link at `position`; inside a transaction pass it (on PGlite the outer handle would wait forever). */
async function linkAt(position: number, db: Database = database()): Promise<{ sequence: string; hash: string }> {
  const [row] = await executeRows<{ sequence: string; hash: string }>(
    db,
    sql`SELECT sequence::text AS sequence, hash FROM audit_chain_links WHERE chain_position = ${position}`,
  );
  if (!row) throw new Error(`no link at position ${position}`);
  return row;
}

/**
 * Runs `tamper` as a superuser with every trigger of the audit tables disabled (the append-only triggers and
 * the foreign keys' triggers), then verifies inside the same transaction and rolls everything back, so each
 * test sees the attack and the next test finds the chain intact again.
 */
async function verifyAfterTampering(tamper: (tx: Database) => Promise<void>): Promise<AuditChainVerification> {
  let result: AuditChainVerification | undefined;
  await superuserDatabase()
    .transaction(async (transaction) => {
      const tx = transaction as unknown as Database;
      for (const table of ["audit_events", "audit_chain_links", "audit_checkpoints"]) {
        await tx.execute(sql`ALTER TABLE ${sql.identifier(table)} DISABLE TRIGGER ALL`);
      }
      await tamper(tx);
      result = await verifyAuditChain(tx);
      throw new RollBack();
    })
    .catch((error: unknown) => {
      if (!(error instanceof RollBack)) throw error;
    });
  if (!result) throw new Error("the verifier did not run");
  return result;
}

beforeAll(async () => {
  await applyMigrations(databaseHandle());
});

describe("sealing and verifying", () => {
  it("seals events written through recordAuditEvent and the ledger's SQL functions, in sequence order, and verifies", async () => {
    const customer = await createTestCustomer("chain");
    const source = await openFundedAccount(customer, 50_000n);
    const destination = await openFundedAccount(customer, 0n, "savings");
    for (let index = 0; index < 5; index += 1) {
      await postCustomerTransfer(
        customer,
        parseTransferRequest({
          idempotencyKey: crypto.randomUUID(),
          memo: "",
          fromAccountId: source,
          to: { kind: "own_account", accountId: destination },
          amount: "1.00",
        }),
      );
    }
    await writeEvents(200, "bulk");

    const [counts] = await queryRows<{ total: string; withWriter: string; posted: string }>(
      sql`SELECT count(*)::text AS total, count(writer_transaction)::text AS "withWriter",
                 count(*) FILTER (WHERE action = 'ledger.transfer.posted')::text AS posted FROM audit_events`,
    );
    expect(counts?.posted).toBe("5");
    // Every event names its writer's transaction, the ledger's included.
    expect(counts?.withWriter).toBe(counts?.total);

    const sealed = await sealEverything();
    expect(sealed.sealedEvents).toBe(Number(counts?.total));
    const positions = await queryRows<{ position: string; sequence: string }>(
      sql`SELECT chain_position::text AS position, sequence::text AS sequence FROM audit_chain_links ORDER BY chain_position`,
    );
    expect(positions.map((row) => Number(row.position))).toEqual(positions.map((_, index) => index + 1));
    const sequences = positions.map((row) => BigInt(row.sequence));
    expect(sequences).toEqual([...sequences].sort((first, second) => (first < second ? -1 : first > second ? 1 : 0)));

    expect(await writeAuditCheckpointIfDue(database(), "now")).toBe(BigInt(sealed.sealedEvents));
    const result = await verified();
    expect(result).toEqual({
      ok: true,
      sealedEvents: sealed.sealedEvents,
      headHash: sealed.headHash,
      checkpointsVerified: 1,
      unsealedEvents: 0,
    });
    // A second run finds nothing new and changes nothing.
    expect((await sealEverything()).sealedEvents).toBe(0);
    expect(await writeAuditCheckpointIfDue(database(), "now")).toBeNull();
  });

  it("reports recent events that are not sealed yet, then seals them after the head", async () => {
    const before = await verified();
    await writeEvents(3, "recent");
    expect((await verified()).unsealedEvents).toBe(3);
    expect((await sealEverything()).sealedEvents).toBe(3);
    const after = await verified();
    expect(after.sealedEvents).toBe(before.sealedEvents + 3);
    expect(after.unsealedEvents).toBe(0);
  });

  it("leaves the sequence value of a rolled-back writer as a permanent gap and seals what follows", async () => {
    const failed = database().transaction(async (tx) => {
      await recordAuditEvent(tx, { actorId: null, actorRole: "system", action: "test.audit_chain.rolled_back" });
      throw new RollBack();
    });
    await expect(failed).rejects.toBeInstanceOf(RollBack);
    await writeEvents(2, "after-gap");
    const sealed = await sealEverything();
    expect(sealed.sealedEvents).toBe(2);
    const [gap] = await queryRows<{ gaps: string }>(
      sql`SELECT count(*)::text AS gaps FROM (
            SELECT sequence - lag(sequence) OVER (ORDER BY chain_position) AS step FROM audit_chain_links) AS steps
          WHERE step > 1`,
    );
    expect(Number(gap?.gaps)).toBeGreaterThanOrEqual(1);
    expect((await verified()).unsealedEvents).toBe(0);
  });

  it("seals across gaps wider than a batch window (a rolled-back writer that drew 150 sequence values)", async () => {
    const failed = database().transaction(async (tx) => {
      for (let index = 0; index < 150; index += 1) {
        await recordAuditEvent(tx, { actorId: null, actorRole: "system", action: "test.audit_chain.rolled_back" });
      }
      throw new RollBack();
    });
    await expect(failed).rejects.toBeInstanceOf(RollBack);
    await writeEvents(3, "after-wide-gap");
    // batchSize 64: at least two windows hold no event at all, and sealing must go on past them.
    const sealed = await sealEverything();
    expect(sealed.sealedEvents).toBe(3);
    expect((await verified()).unsealedEvents).toBe(0);
  });

  it("refuses an event that does not name its writer's transaction", async () => {
    const failure = await databaseFailureOf(
      database().execute(sql`INSERT INTO audit_events (actor_role, action) VALUES ('system', 'test.audit_chain.no_writer')`),
    );
    expect(failure.code).toBe(sqlState.checkViolation);
    expect(failure.message).toContain("audit_events_writer_transaction_recorded");
  });

  it("keeps links and checkpoints append-only, and refuses a link that does not extend the head", async () => {
    const head = await verified();
    const update = await databaseFailureOf(database().execute(sql`UPDATE audit_chain_links SET hash = ${genesisHash}`));
    expect(update.code).toBe(sqlState.insufficientPrivilege);
    const deletion = await databaseFailureOf(database().execute(sql`DELETE FROM audit_checkpoints`));
    expect(deletion.code).toBe(sqlState.insufficientPrivilege);
    await writeEvents(1, "fork");
    const [event] = await queryRows<{ sequence: string }>(sql`SELECT max(sequence)::text AS sequence FROM audit_events`);
    // A second "head" at position 2 (a fork) and a link that names a wrong previous hash are both refused.
    const fork = await databaseFailureOf(
      database().execute(sql`INSERT INTO audit_chain_links (sequence, chain_position, previous_hash, hash)
                             VALUES (${event?.sequence}::bigint, 2, ${(await linkAt(1)).hash}, ${genesisHash.replace(/^0/, "1")})`),
    );
    expect(fork.code).toBe("23505");
    const wrongPrevious = await databaseFailureOf(
      database().execute(sql`INSERT INTO audit_chain_links (sequence, chain_position, previous_hash, hash)
                             VALUES (${event?.sequence}::bigint, ${head.sealedEvents + 1}, ${genesisHash}, ${genesisHash})`),
    );
    expect(wrongPrevious.code).toBe(sqlState.checkViolation);
    expect(wrongPrevious.message).toContain("does not extend");
    // The rule is checked once per statement (the sealer inserts a batch in one statement), so a break inside
    // a multi-row insert is refused too: the second new link names a hash that is not the first one's, or a
    // smaller event sequence than its predecessor's.
    await writeEvents(1, "fork-second");
    const [second] = await queryRows<{ sequence: string }>(sql`SELECT max(sequence)::text AS sequence FROM audit_events`);
    const nextPosition = head.sealedEvents + 1;
    const firstNewHash = genesisHash.replace(/^0/, "a");
    const brokenInsideBatch = await databaseFailureOf(
      database().execute(sql`INSERT INTO audit_chain_links (sequence, chain_position, previous_hash, hash)
                             VALUES (${event?.sequence}::bigint, ${nextPosition}, ${(await linkAt(head.sealedEvents)).hash}, ${firstNewHash}),
                                    (${second?.sequence}::bigint, ${nextPosition + 1}, ${genesisHash.replace(/^0/, "b")}, ${genesisHash})`),
    );
    expect(brokenInsideBatch.code).toBe(sqlState.checkViolation);
    expect(brokenInsideBatch.message).toContain(`link ${nextPosition + 1} does not extend`);
    const sequenceGoingBack = await databaseFailureOf(
      database().execute(sql`INSERT INTO audit_chain_links (sequence, chain_position, previous_hash, hash)
                             VALUES (${second?.sequence}::bigint, ${nextPosition}, ${(await linkAt(head.sealedEvents)).hash}, ${firstNewHash}),
                                    (${event?.sequence}::bigint, ${nextPosition + 1}, ${firstNewHash}, ${genesisHash})`),
    );
    expect(sequenceGoingBack.code).toBe(sqlState.checkViolation);
    expect(sequenceGoingBack.message).toContain(`link ${nextPosition + 1} does not extend`);
    // The hash columns hold exactly 64 lowercase hex characters (drizzle/0015 states the rule without a
    // counted regex): uppercase, a non-hex character and a short value are each refused by the column's check.
    const previousHash = (await linkAt(head.sealedEvents)).hash;
    for (const [column, malformed] of [
      ["hash", `A${genesisHash.slice(1)}`],
      ["hash", `g${genesisHash.slice(1)}`],
      ["hash", genesisHash.slice(1)],
      ["previous_hash", `A${previousHash.slice(1)}`],
      ["previous_hash", previousHash.slice(0, 63)],
    ] as const) {
      const linkHash = column === "hash" ? malformed : firstNewHash;
      const linkPrevious = column === "previous_hash" ? malformed : previousHash;
      const failure = await databaseFailureOf(
        database().execute(sql`INSERT INTO audit_chain_links (sequence, chain_position, previous_hash, hash)
                               VALUES (${event?.sequence}::bigint, ${nextPosition}, ${linkPrevious}, ${linkHash})`),
      );
      expect(failure.code).toBe(sqlState.checkViolation);
      expect(failure.message).toContain(`audit_chain_links_${column}_hex`);
    }
    await sealEverything();
    expect((await verified()).sealedEvents).toBe(head.sealedEvents + 2);
  });
});

describe("tampering by a superuser with the triggers disabled", () => {
  beforeAll(async () => {
    await sealEverything();
    await writeAuditCheckpointIfDue(database(), "now");
  });

  it("reports an altered event at its chain position and sequence", async () => {
    const target = await linkAt(37);
    const result = await verifyAfterTampering(async (tx) => {
      await tx.execute(sql`UPDATE audit_events SET ip_address = '203.0.113.66' WHERE sequence = ${target.sequence}::bigint`);
    });
    expect(result).toMatchObject({ ok: false, problem: "event_altered", chainPosition: "37", sequence: target.sequence });
  });

  it("notices a change to the details' JSON too", async () => {
    const target = await linkAt(120);
    const result = await verifyAfterTampering(async (tx) => {
      await tx.execute(sql`UPDATE audit_events SET details = details || '{"index": 9999}'::jsonb WHERE sequence = ${target.sequence}::bigint`);
    });
    expect(result).toMatchObject({ ok: false, problem: "event_altered", chainPosition: "120", sequence: target.sequence });
  });

  it("reports a deleted event at its chain position", async () => {
    const target = await linkAt(12);
    const result = await verifyAfterTampering(async (tx) => {
      await tx.execute(sql`DELETE FROM audit_events WHERE sequence = ${target.sequence}::bigint`);
    });
    expect(result).toMatchObject({ ok: false, problem: "event_deleted", chainPosition: "12", sequence: target.sequence });
  });

  it("reports a deleted event together with its link as a missing link", async () => {
    const target = await linkAt(15);
    const result = await verifyAfterTampering(async (tx) => {
      await tx.execute(sql`DELETE FROM audit_chain_links WHERE sequence = ${target.sequence}::bigint`);
      await tx.execute(sql`DELETE FROM audit_events WHERE sequence = ${target.sequence}::bigint`);
    });
    expect(result).toMatchObject({ ok: false, problem: "link_missing", chainPosition: "15" });
  });

  it("reports an event slipped into a gap of the sealed history", async () => {
    const [gap] = await queryRows<{ sequence: string }>(
      sql`SELECT (link.sequence - 1)::text AS sequence FROM audit_chain_links AS link
           WHERE NOT EXISTS (SELECT 1 FROM audit_events WHERE sequence = link.sequence - 1) AND link.chain_position > 1
           ORDER BY link.chain_position LIMIT 1`,
    );
    expect(gap).toBeDefined();
    const result = await verifyAfterTampering(async (tx) => {
      await tx.execute(sql`INSERT INTO audit_events (sequence, writer_transaction, actor_role, action)
                           OVERRIDING SYSTEM VALUE
                           VALUES (${gap?.sequence}::bigint, pg_current_xact_id(), 'system', 'test.audit_chain.backdated')`);
    });
    expect(result).toMatchObject({ ok: false, problem: "event_not_in_chain", sequence: gap?.sequence });
  });

  it("catches a chain rewritten consistently (events and links recomputed without the key) at the checkpoint", async () => {
    const rewriteFrom = 40;
    const [checkpoint] = await queryRows<{ first: string; last: string }>(
      sql`SELECT min(chain_position)::text AS first, max(chain_position)::text AS last
            FROM audit_checkpoints WHERE chain_position >= ${rewriteFrom}`,
    );
    const firstCheckpointPosition = Number(checkpoint?.first);
    const checkpointPosition = Number(checkpoint?.last);
    expect(firstCheckpointPosition).toBeGreaterThan(rewriteFrom);
    const result = await verifyAfterTampering(async (tx) => {
      const target = await linkAt(rewriteFrom, tx);
      await tx.execute(sql`UPDATE audit_events SET target_id = 'rewritten' WHERE sequence = ${target.sequence}::bigint`);
      // The attacker knows the (public) encoding, recomputes every link from there on and replaces them.
      const events = await executeRows<CanonicalAuditEvent & { position: string } & Record<string, unknown>>(
        tx,
        sql`SELECT link.chain_position::text AS position, ${canonicalEventColumns}
              FROM audit_chain_links AS link JOIN audit_events AS event ON event.sequence = link.sequence
             WHERE link.chain_position >= ${rewriteFrom} ORDER BY link.chain_position`,
      );
      let previousHash = (await linkAt(rewriteFrom - 1, tx)).hash;
      for (const event of events) {
        const hash = chainLinkHash(previousHash, BigInt(event.position), event);
        await tx.execute(sql`UPDATE audit_chain_links SET previous_hash = ${previousHash}, hash = ${hash}
                              WHERE chain_position = ${event.position}::bigint`);
        previousHash = hash;
      }
    });
    // Every link is consistent again; only the signed checkpoint can tell.
    expect(result).toMatchObject({ ok: false, problem: "checkpoint_mismatch", chainPosition: String(firstCheckpointPosition) });

    const withForgedCheckpoint = await verifyAfterTampering(async (tx) => {
      await tx.execute(sql`UPDATE audit_checkpoints SET hash = ${genesisHash} WHERE chain_position = ${checkpointPosition}`);
    });
    expect(withForgedCheckpoint).toMatchObject({
      ok: false,
      problem: "checkpoint_bad_signature",
      chainPosition: String(checkpointPosition),
    });
    await verified();
  });
});

describe("the checkpoint key in a SoftHSM2 token", () => {
  let token: TestToken;
  let provider: Pkcs11KeyProvider;

  beforeAll(() => {
    token = softHsm().createToken("audit-test");
    provider = createPkcs11Provider({
      modulePath: softHsm().modulePath,
      tokenLabel: token.tokenLabel,
      pinFile: token.userPinFile,
      ...testKeyLabels,
      refreshSeconds: 30,
      openStore: configuredDataKeyStore,
    });
  });

  afterAll(async () => {
    await provider.close();
  });

  it("signs checkpoints inside the token that verify with the token and fail with any other key", async () => {
    await writeEvents(5, "hsm");
    await sealEverything();
    const sign = (message: Buffer) => provider.signAuditCheckpoint(message);
    // Inside a transaction that is rolled back, so that the rest of the file keeps checkpoints of one key: the
    // local keyring's checkpoints are set aside (as a superuser could) and the token signs the head.
    let withToken: AuditChainVerification | undefined;
    let withLocalKeyring: AuditChainVerification | undefined;
    await superuserDatabase()
      .transaction(async (transaction) => {
        const tx = transaction as unknown as Database;
        await tx.execute(sql`ALTER TABLE audit_checkpoints DISABLE TRIGGER ALL`);
        await tx.execute(sql`DELETE FROM audit_checkpoints`);
        const position = await writeAuditCheckpointIfDue(tx, "now", sign);
        expect(position).not.toBeNull();
        withToken = await verifyAuditChain(tx, sign);
        withLocalKeyring = await verifyAuditChain(tx);
        throw new RollBack();
      })
      .catch((error: unknown) => {
        if (!(error instanceof RollBack)) throw error;
      });
    expect(withToken).toMatchObject({ ok: true, checkpointsVerified: 1, unsealedEvents: 0 });
    expect(withLocalKeyring).toMatchObject({ ok: false, problem: "checkpoint_bad_signature" });
    // HMAC-SHA256 is deterministic: signing the same message again in the token gives the same 32 bytes.
    const message = Buffer.from("same message");
    const signature = await sign(message);
    expect(signature).toHaveLength(32);
    expect(signature.equals(await sign(message))).toBe(true);
  });

  it("cannot be read or wrapped out of the token", () => {
    const { module: library } = loadedModule(softHsm().modulePath);
    const session = openUserSession(findSlotByLabel(library, token.tokenLabel), token.userPin);
    try {
      const key = findSecretKey(session, defaultAuditCheckpointKeyLabel);
      expect(key).toBeDefined();
      expect(key?.sensitive).toBe(true);
      expect(key?.extractable).toBe(false);
      expect(key?.neverExtractable).toBe(true);
      expect(() => key?.getAttribute("value")).toThrow(/CKR_ATTRIBUTE_SENSITIVE/);
      const wrappingKey = session.generateKey(KeyGenMechanism.AES, {
        class: ObjectClass.SECRET_KEY,
        keyType: KeyType.AES,
        valueLen: 32,
        token: false,
        wrap: true,
        unwrap: true,
      });
      if (key === undefined) throw new Error("no audit checkpoint key");
      expect(() => session.wrapKey({ name: "AES_KEY_WRAP", params: null }, wrappingKey, key)).toThrow(/CKR_KEY_UNEXTRACTABLE/);
    } finally {
      closeSessionQuietly(session);
    }
  });
});

describe.runIf(onPostgres)("concurrent writers and sealers (PostgreSQL)", () => {
  let writers: DatabaseHandle;
  let sealers: DatabaseHandle;

  beforeAll(() => {
    expect(environment().kind).toBe("postgres");
    const databaseUrl = process.env.DATABASE_URL;
    writers = openDatabase({ databaseUrl, pgliteDirectory: "memory://unused", maxConnections: 22 });
    sealers = openDatabase({ databaseUrl, pgliteDirectory: "memory://unused", maxConnections: 3 });
  });

  afterAll(async () => {
    await writers.close();
    await sealers.close();
  });

  it("does not seal past a writer that drew an earlier sequence and commits late, and seals it in order once it does", async () => {
    await sealEverything(sealers.db);
    let releaseSlow: () => void = () => undefined;
    const slowMayCommit = new Promise<void>((resolve) => {
      releaseSlow = resolve;
    });
    let slowInserted: () => void = () => undefined;
    const inserted = new Promise<void>((resolve) => {
      slowInserted = resolve;
    });
    // The slow writer's first statement is the audit insert: its transaction id is assigned by that very
    // statement, which is exactly the case the writer-transaction ordering exists for.
    const slow = writers.db.transaction(async (tx) => {
      await recordAuditEvent(tx, { actorId: null, actorRole: "system", action: "test.audit_chain.slow" });
      slowInserted();
      await slowMayCommit;
    });
    await inserted;
    await writers.db.transaction(async (tx) => {
      await recordAuditEvent(tx, { actorId: null, actorRole: "system", action: "test.audit_chain.fast" });
    });

    const early = await sealAuditEvents(sealers.db, { waitTimeoutMilliseconds: 300 });
    expect(early.outcome).toBe("waiting");
    expect(early.sealedEvents).toBe(0);

    // Aborted, as the app's timer does at shutdown, a long wait gives up at once and seals nothing.
    const stopping = new AbortController();
    const abortedAt = Date.now() + 100;
    setTimeout(() => stopping.abort(), 100);
    const abandoned = await sealAuditEvents(sealers.db, { waitTimeoutMilliseconds: 30_000, signal: stopping.signal });
    expect(abandoned).toMatchObject({ outcome: "waiting", sealedEvents: 0 });
    expect(Date.now() - abortedAt).toBeLessThan(2_000);

    releaseSlow();
    await slow;
    expect((await sealAuditEvents(sealers.db)).sealedEvents).toBe(2);
    const lastTwo = await queryRows<{ action: string }>(
      sql`SELECT event.action FROM audit_chain_links AS link JOIN audit_events AS event ON event.sequence = link.sequence
           ORDER BY link.chain_position DESC LIMIT 2`,
    );
    expect(lastTwo.map((row) => row.action)).toEqual(["test.audit_chain.fast", "test.audit_chain.slow"]);
    expect((await verified()).unsealedEvents).toBe(0);
  });

  it("answers busy while another sealer holds the lock", async () => {
    let release: () => void = () => undefined;
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    let locked: () => void = () => undefined;
    const isLocked = new Promise<void>((resolve) => {
      locked = resolve;
    });
    const holder = sealers.db.transaction(async (tx) => {
      await tx.execute(sql`SELECT pg_advisory_xact_lock(7413200801)`);
      locked();
      await released;
    });
    await isLocked;
    try {
      // Something to seal: with nothing new the sealer answers "sealed" before it even asks for the lock.
      await writeEvents(1, "busy");
      expect((await sealAuditEvents(writers.db)).outcome).toBe("busy");
    } finally {
      release();
      await holder;
    }
    expect((await sealAuditEvents(writers.db)).sealedEvents).toBe(1);
  });

  it("20 connections × 50 events with rollbacks and late commits, two sealers running: one chain, every committed event once", async () => {
    const before = await verified();
    const runMarker = crypto.randomUUID();
    let writing = true;
    let sealedWhileWriting = 0;
    const sealerLoop = async () => {
      while (writing) {
        const result = await sealAuditEvents(sealers.db, { batchSize: 100, waitTimeoutMilliseconds: 2_000, pollIntervalMilliseconds: 5 });
        sealedWhileWriting += result.sealedEvents;
        await sleep(20);
      }
    };
    const sealing = Promise.all([sealerLoop(), sealerLoop()]);

    let committed = 0;
    let rolledBack = 0;
    const writer = async (writerIndex: number) => {
      for (let eventIndex = 0; eventIndex < 50; eventIndex += 1) {
        const choice = (writerIndex * 50 + eventIndex) % 10;
        const rollBack = choice === 3;
        const slow = choice === 7;
        try {
          await writers.db.transaction(async (tx) => {
            await recordAuditEvent(tx, {
              actorId: null,
              actorRole: "system",
              action: "test.audit_chain.concurrent",
              targetId: `${writerIndex}-${eventIndex}`,
              details: { runMarker, rolledBack: rollBack },
            });
            // Late commits: later sequences commit while this one waits.
            if (slow) await sleep(40 + ((writerIndex * 7 + eventIndex) % 5) * 20);
            if (rollBack) throw new RollBack();
          });
          committed += 1;
        } catch (error) {
          if (!(error instanceof RollBack)) throw error;
          rolledBack += 1;
        }
      }
    };
    await Promise.all(Array.from({ length: 20 }, (_, index) => writer(index)));
    writing = false;
    await sealing;
    await sealEverything(sealers.db);

    expect(committed).toBe(900);
    expect(rolledBack).toBe(100);
    expect(sealedWhileWriting).toBeGreaterThan(0);
    const [run] = await queryRows<{ events: string; linked: string; rolledBackVisible: string }>(
      sql`SELECT count(*)::text AS events, count(link.sequence)::text AS linked,
                 count(*) FILTER (WHERE event.details ->> 'rolledBack' = 'true')::text AS "rolledBackVisible"
            FROM audit_events AS event LEFT JOIN audit_chain_links AS link ON link.sequence = event.sequence
           WHERE event.details ->> 'runMarker' = ${runMarker}`,
    );
    expect(run).toEqual({ events: "900", linked: "900", rolledBackVisible: "0" });
    const [shape] = await queryRows<{ links: string; distinctSequences: string; maxPosition: string }>(
      sql`SELECT count(*)::text AS links, count(DISTINCT sequence)::text AS "distinctSequences",
                 max(chain_position)::text AS "maxPosition" FROM audit_chain_links`,
    );
    expect(shape?.links).toBe(shape?.maxPosition);
    expect(shape?.links).toBe(shape?.distinctSequences);
    const after = await verified();
    expect(after.sealedEvents).toBe(before.sealedEvents + 900);
    expect(after.unsealedEvents).toBe(0);
  }, 120_000);
});

describe("the audit:verify script (last: it leaves the chain broken)", () => {
  it("prints OK or the first broken link from `npm run audit:verify`, with exit codes 0 and 1", async () => {
    const expected = await verified();
    // The script opens the database itself; PGlite must not be open in two places at once.
    await closeDatabase();
    const run = () =>
      runFile(path.join(repositoryRoot, "node_modules", ".bin", "tsx"), ["--conditions=react-server", "scripts/audit-verify.ts"], {
        cwd: repositoryRoot,
        // The same configuration as this file (its database, keyring and NODE_ENV=test, which also keeps
        // @next/env from loading a developer's .env.local).
        env: process.env,
      }).then(
        ({ stdout }) => ({ exitCode: 0, stdout }),
        (error: { code?: number; stdout?: string }) => ({ exitCode: error.code ?? -1, stdout: error.stdout ?? "" }),
      );
    const sound = await run();
    expect(sound).toEqual({
      exitCode: 0,
      stdout: `OK: ${expected.sealedEvents} events sealed, chain head ${expected.headHash}, ${expected.checkpointsVerified} checkpoints verified; 0 recent events not sealed yet\n`,
    });

    // Now the alteration is committed (this is the last test of the file that needs a sound chain).
    const target = await linkAt(7);
    await superuserDatabase().transaction(async (tx) => {
      await tx.execute(sql`ALTER TABLE audit_events DISABLE TRIGGER ALL`);
      await tx.execute(sql`UPDATE audit_events SET action = 'auth.sign_in.succeeded' WHERE sequence = ${target.sequence}::bigint`);
      await tx.execute(sql`ALTER TABLE audit_events ENABLE TRIGGER ALL`);
    });
    await closeDatabase();
    const broken = await run();
    expect(broken.exitCode).toBe(1);
    expect(broken.stdout).toBe(
      `BROKEN at chain position 7 (event sequence ${target.sequence}): event_altered: the event with sequence ` +
        `${target.sequence}, sealed at position 7, has been altered; 0 recent events not sealed yet\n`,
    );
  }, 60_000);
});
