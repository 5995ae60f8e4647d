/**
 * Rotation of the email blind-index key with the local keyring, on PostgreSQL and PGlite: sign-in, password
 * reset, registration and email change keep working while stored indexes are on mixed versions; one account
 * per address holds across versions (with parallel registrations during a rotation on PostgreSQL); and
 * `keys:reindex` moves every index to the current version, resumably, without overwriting a concurrent email
 * change.
 */
import crypto from "node:crypto";
import { execFile } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { and, desc, eq, inArray, sql } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { database, databaseHandle, type Queryable } from "@/db/client";
import { applyMigrations } from "@/db/migrations";
import { auditEvents, outbox, sessions, users, userTokens } from "@/db/schema";
import type { SessionActor } from "@/lib/auth/actor";
import { authenticateWithPassword } from "@/lib/auth/authenticate-with-password";
import {
  blindIndexLookup,
  blindIndexUnderEveryVersion,
  currentBlindIndexVersion,
  decryptField,
  encryptField,
  normaliseEmail,
} from "@/lib/crypto";
import {
  blindIndexedColumns,
  findIndexesOnOldVersions,
  readIndexesOnOtherVersions,
  recomputeIndexes,
  reindexColumn,
  writeRecomputedIndexes,
} from "@/lib/crypto/blind-index-reindex";
import { createFieldCipher, type VersionedBlindIndex } from "@/lib/crypto/field-cipher";
import { parseKeyringText } from "@/lib/crypto/keyring-format";
import { createLocalKeyring } from "@/lib/crypto/local-keyring";
import { rotateBlindIndexKeys } from "@/lib/crypto/rotate-blind-index-keys";
import { BankError } from "@/lib/errors";
import { requestEmailChange } from "@/lib/identity/account-security";
import { confirmEmailToken } from "@/lib/identity/email-tokens";
import { claimEmailAddress, emailLockKey, type EmailIndexSource } from "@/lib/identity/email-uniqueness";
import { requestPasswordReset } from "@/lib/identity/password-reset";
import { registerCustomerAccount } from "@/lib/identity/register";
import { useIntegrationEnvironment } from "../helpers/integration-environment";

// Set before the application reads its configuration (env() is read once per process, on first use).
process.env.KEY_REFRESH_SECONDS = "1";

const environment = useIntegrationEnvironment();
const onPostgres = process.env.INTEGRATION_DATABASE === "postgres";

const context = { ipAddress: "198.51.100.93", userAgent: "blind-index-rotation-test/1.0" };
const password = "Quiet-lantern-harbour-47!";
const usersColumn = blindIndexedColumns.find((column) => column.source.table === "users");
if (usersColumn === undefined) throw new Error("users.email_blind_index is not in the registry");

/** The email blind-index key version 1, as every instance has known it since before any rotation. */
let firstKeyBase64 = "";

function address(name: string): string {
  return `${name}-${crypto.randomBytes(3).toString("hex")}@example.com`;
}

/** Every account that holds `email` under any live version, with its stored index. */
async function holdersOf(email: string): Promise<{ id: string; index: string }[]> {
  return database()
    .select({ id: users.id, index: users.emailBlindIndex })
    .from(users)
    .where(inArray(users.emailBlindIndex, await blindIndexLookup("email", email)));
}

async function soleHolder(email: string): Promise<{ id: string; index: string }> {
  const holders = await holdersOf(email);
  expect(holders, email).toHaveLength(1);
  const [holder] = holders;
  if (holder === undefined) throw new Error("unreachable");
  return holder;
}

async function registerVerified(name: string): Promise<{ email: string; userId: string }> {
  const email = address(name);
  await registerCustomerAccount({ legalName: name, email, dateOfBirth: "1985-06-01", password }, context);
  const { id } = await soleHolder(email);
  await database().update(users).set({ emailVerifiedAt: new Date() }).where(eq(users.id, id));
  return { email, userId: id };
}

async function signIn(email: string): Promise<string | null> {
  return (await authenticateWithPassword({ email, password }, context))?.userId ?? null;
}

/** Decrypted outbox messages to `email`, newest first: template and body. */
async function messagesTo(email: string): Promise<{ template: string; body: string }[]> {
  const rows = await database().select().from(outbox).orderBy(desc(outbox.createdAt));
  const messages: { template: string; body: string }[] = [];
  for (const row of rows) {
    const to = await decryptField(row.recipientCiphertext, { table: "outbox", column: "recipient", rowId: row.id });
    if (to !== normaliseEmail(email)) continue;
    const body = await decryptField(row.bodyCiphertext, { table: "outbox", column: "body", rowId: row.id });
    messages.push({ template: row.template, body });
  }
  return messages;
}

async function linkTokenSentTo(email: string): Promise<string> {
  const [message] = await messagesTo(email);
  const match = message?.body.match(/token=([A-Za-z0-9_-]{43})/);
  if (!match?.[1]) throw new Error(`no link was sent to ${email}`);
  return match[1];
}

async function actorFor(userId: string): Promise<SessionActor> {
  const sessionId = crypto.randomUUID();
  await database().insert(sessions).values({ id: sessionId, userId });
  return { kind: "customer", role: "customer", userId, sessionId, ...context };
}

/** `email`'s index under version 1: what an instance that has not yet seen a rotation stores and looks up. */
function version1Index(email: string): VersionedBlindIndex {
  const digest = crypto.createHmac("sha256", Buffer.from(firstKeyBase64, "base64")).update(normaliseEmail(email), "utf8").digest("hex");
  return { version: 1, index: `v1:${digest}` };
}

/**
 * Another app instance that loaded its keys before the rotation and has not refreshed them: it knows only
 * version 1, until claimEmailAddress makes it read the keyring again (which it then does from the same file).
 */
function staleInstance(): EmailIndexSource {
  const reading = createFieldCipher(createLocalKeyring(environment().keyringPath, { currentVersionRefreshSeconds: 3600 }));
  return async (email, options) =>
    options.reread ? reading.blindIndexUnderEveryVersion("email", email, options) : [version1Index(email)];
}


/** Inserts an unverified customer straight into users with `index`, as a writer on other keys would. */
async function insertCustomer(queryable: Queryable, email: string, index: string): Promise<string> {
  const id = crypto.randomUUID();
  await queryable.insert(users).values({
    id,
    role: "customer",
    emailCiphertext: await encryptField(email, { table: "users", column: "email", rowId: id }),
    emailBlindIndex: index,
    legalNameCiphertext: await encryptField("Inserted Directly", { table: "users", column: "legal_name", rowId: id }),
    passwordHash: "not-a-real-hash",
  });
  return id;
}

async function reindexEverything(batchSize = 2): Promise<void> {
  for (const column of blindIndexedColumns) await reindexColumn(column, { batchSize });
}

let alice: { email: string; userId: string };
let bob: { email: string; userId: string };
let bobNewEmail = "";
let unverifiedEmail = "";

beforeAll(async () => {
  await applyMigrations(databaseHandle());
  const { keyringPath } = environment();
  firstKeyBase64 = String(parseKeyringText(fs.readFileSync(keyringPath, "utf8"), keyringPath).blindIndexKeys.email.versions["1"]);

  alice = await registerVerified("alice");
  bob = await registerVerified("bob");
  // Bob asks to move to a new address before the rotation: the link is followed after it.
  bobNewEmail = address("bob-new");
  await requestEmailChange(await actorFor(bob.userId), { currentPassword: password, newEmail: bobNewEmail });
  unverifiedEmail = address("unverified");
  await registerCustomerAccount({ legalName: "Una", email: unverifiedEmail, dateOfBirth: "1990-01-01", password }, context);
});

describe("before any rotation", () => {
  it("stores every index as v1:<64 hex digits>, in users and in a pending email change", async () => {
    expect((await soleHolder(alice.email)).index).toMatch(/^v1:[0-9a-f]{64}$/);
    const [token] = await database()
      .select({ index: userTokens.newEmailBlindIndex })
      .from(userTokens)
      .where(and(eq(userTokens.userId, bob.userId), eq(userTokens.purpose, "email_change")));
    expect(token?.index).toMatch(/^v1:[0-9a-f]{64}$/);
    expect(await currentBlindIndexVersion("email")).toBe(1);
  });
});

describe("migration 0009", () => {
  it("prefixes an index written before versions existed with v1:, only once, and the account then signs in", async () => {
    const legacy = await registerVerified("legacy");
    const bare = (await soleHolder(legacy.email)).index.slice("v1:".length);
    await database().update(users).set({ emailBlindIndex: bare }).where(eq(users.id, legacy.userId));
    expect(await signIn(legacy.email)).toBeNull();
    const migration = fs.readFileSync(path.resolve(import.meta.dirname, "../../drizzle/0009_versioned_blind_indexes.sql"), "utf8");
    // Run twice: a second run must not prefix again.
    for (let round = 0; round < 2; round += 1) {
      for (const statement of migration.split("--> statement-breakpoint")) await database().execute(sql.raw(statement));
    }
    expect((await soleHolder(legacy.email)).index).toBe(`v1:${bare}`);
    expect(await signIn(legacy.email)).toBe(legacy.userId);
  });
});

describe("after keys:rotate -- blind-index:email, before any reindex", () => {
  beforeAll(async () => {
    expect(await rotateBlindIndexKeys(["email"])).toEqual([{ purpose: "email", version: 2 }]);
  });

  it("makes version 2 current and records keys.rotated with purpose and version, without key material", async () => {
    expect(await currentBlindIndexVersion("email")).toBe(2);
    const [event] = await database()
      .select()
      .from(auditEvents)
      .where(eq(auditEvents.action, "keys.rotated"))
      .orderBy(desc(auditEvents.sequence))
      .limit(1);
    expect(event).toMatchObject({ actorRole: "system", targetType: "blind_index_key", targetId: "email" });
    expect(event?.details).toEqual({ purpose: "blind-index:email", version: 2 });
    const keyring = JSON.parse(fs.readFileSync(environment().keyringPath, "utf8")) as {
      blindIndexKeys: { email: { versions: Record<string, string> } };
    };
    const newKey = keyring.blindIndexKeys.email.versions["2"];
    expect(newKey).toBeDefined();
    expect(JSON.stringify(event?.details)).not.toContain(String(newKey));
    expect(JSON.stringify(event?.details)).not.toContain(Buffer.from(String(newKey), "base64").toString("hex"));
  });

  it("old accounts, still indexed under version 1, sign in and receive password-reset links", async () => {
    expect((await soleHolder(alice.email)).index).toMatch(/^v1:/);
    expect(await signIn(alice.email)).toBe(alice.userId);
    expect(await signIn(` ${alice.email.toUpperCase()} `)).toBe(alice.userId);
    await requestPasswordReset(alice.email, context);
    expect((await messagesTo(alice.email)).map((message) => message.template)).toContain("password_reset");
  });

  it("new registrations store the new version", async () => {
    const carol = await registerVerified("carol");
    expect((await soleHolder(carol.email)).index).toMatch(/^v2:[0-9a-f]{64}$/);
    expect(await signIn(carol.email)).toBe(carol.userId);
  });

  it("a registration for an address held under version 1 creates no second account", async () => {
    await registerCustomerAccount({ legalName: "Impostor", email: alice.email, dateOfBirth: "1970-01-01", password }, context);
    expect(await soleHolder(alice.email)).toMatchObject({ id: alice.userId });
    expect((await messagesTo(alice.email))[0]?.template).toBe("registration_attempt_on_existing_account");
  });

  it("an unverified registration under version 1 is replaced by a new one under version 2, not doubled", async () => {
    const before = await soleHolder(unverifiedEmail);
    expect(before.index).toMatch(/^v1:/);
    await registerCustomerAccount({ legalName: "Una Again", email: unverifiedEmail, dateOfBirth: "1990-01-01", password }, context);
    const after = await soleHolder(unverifiedEmail);
    expect(after.id).not.toBe(before.id);
    expect(after.index).toMatch(/^v2:/);
  });

  it("an email change requested before the rotation takes effect under the new version", async () => {
    await expect(confirmEmailToken(await linkTokenSentTo(bobNewEmail), context)).resolves.toEqual({ outcome: "email_changed" });
    expect(await soleHolder(bobNewEmail)).toMatchObject({ id: bob.userId });
    expect((await soleHolder(bobNewEmail)).index).toMatch(/^v2:/);
    expect(await signIn(bobNewEmail)).toBe(bob.userId);
    expect(await signIn(bob.email)).toBeNull();
  });

  it("refuses an email change to an address that another account took meanwhile under the old version", async () => {
    const dana = await registerVerified("dana");
    const wanted = address("wanted");
    await requestEmailChange(await actorFor(dana.userId), { currentPassword: password, newEmail: wanted });
    const link = await linkTokenSentTo(wanted);
    // An instance that has not seen the rotation registers the address under version 1; the unique constraint
    // cannot see that it is the address Dana's change would store under version 2.
    const takenBy = await insertCustomer(database(), wanted, version1Index(wanted).index);
    const refusal: unknown = await confirmEmailToken(link, context).catch((error: unknown) => error);
    expect(refusal).toBeInstanceOf(BankError);
    expect(refusal).toMatchObject({ code: "conflict" });
    expect(await soleHolder(wanted)).toMatchObject({ id: takenBy });
    expect(await signIn(dana.email)).toBe(dana.userId);
  });
});

describe("one account per address while versions are mixed", () => {
  it("the unique constraint alone accepts one address under two versions, which is why the address lock exists", async () => {
    const email = address("control");
    const stale = [version1Index(email)];
    const fresh = await blindIndexUnderEveryVersion("email", email);
    expect(fresh.map((entry) => entry.version)).toEqual([2, 1]);
    expect(fresh[1]).toEqual(stale[0]);
    // Both instances derive the same lock, from the oldest version, which both know.
    expect(emailLockKey(stale)).toBe(emailLockKey(fresh));
    const first = await insertCustomer(database(), email, String(stale[0]?.index));
    const second = await insertCustomer(database(), email, String(fresh[0]?.index));
    expect((await holdersOf(email)).map((holder) => holder.id).sort()).toEqual([first, second].sort());
    await database().delete(users).where(inArray(users.id, [first, second]));
    expect(await holdersOf(email)).toEqual([]);
  });

  it.skipIf(!onPostgres)(
    "an instance on the old keys and one on the new take turns on the address lock, and the second sees the first's account",
    async () => {
      const email = address("turns");
      const stale = staleInstance();
      let releaseFirst: () => void = () => undefined;
      const firstMayCommit = new Promise<void>((resolve) => {
        releaseFirst = resolve;
      });
      let firstInserted: () => void = () => undefined;
      const firstHasInserted = new Promise<void>((resolve) => {
        firstInserted = resolve;
      });
      const first = database().transaction(async (transaction) => {
        const claim = await claimEmailAddress(transaction, email, stale);
        expect(claim.holders).toEqual([]);
        const id = await insertCustomer(transaction, email, claim.index);
        firstInserted();
        await firstMayCommit;
        return id;
      });
      await firstHasInserted;
      let secondFound: string[] | undefined;
      const second = database().transaction(async (transaction) => {
        const claim = await claimEmailAddress(transaction, email);
        secondFound = claim.holders.map((holder) => holder.id);
        if (claim.holders.length === 0) await insertCustomer(transaction, email, claim.index);
      });
      await new Promise((resolve) => setTimeout(resolve, 400));
      // Still waiting for the lock while the first transaction is open.
      expect(secondFound).toBeUndefined();
      releaseFirst();
      const firstId = await first;
      await second;
      expect(secondFound).toEqual([firstId]);
      // The instance on the old keys read them again under the lock, so it stored the current version.
      expect(await soleHolder(email)).toMatchObject({ id: firstId });
      expect((await soleHolder(email)).index).toMatch(/^v2:/);
    },
  );

  it("parallel claims of one address by instances on the old and on the new keys leave exactly one account", async () => {
    const email = address("mixed");
    const attempts = Array.from({ length: 8 }, (_, index) =>
      database().transaction(async (transaction) => {
        // Every other attempt comes from an instance that has not refreshed its keys since the rotation.
        const claim = await claimEmailAddress(transaction, email, index % 2 === 0 ? staleInstance() : undefined);
        // Registration's own work between its look-up and its insert (encryption, the token, the outbox).
        await new Promise((resolve) => setTimeout(resolve, 30));
        if (claim.holders.length === 0) await insertCustomer(transaction, email, claim.index);
      }),
    );
    const outcomes = await Promise.allSettled(attempts);
    expect(outcomes.filter((outcome) => outcome.status === "rejected")).toEqual([]);
    await soleHolder(email);
  });

  it("parallel registrations of one address while the key rotates leave exactly one account", async () => {
    const email = address("race");
    const versionBefore = await currentBlindIndexVersion("email");
    const registrations = Array.from({ length: 8 }, (_, index) =>
      registerCustomerAccount({ legalName: `Racer ${String(index)}`, email, dateOfBirth: "1991-03-04", password }, context),
    );
    const verifiedRegistrations = Array.from({ length: 4 }, () =>
      registerCustomerAccount({ legalName: "Racer", email: alice.email, dateOfBirth: "1991-03-04", password }, context),
    );
    const [, , rotated] = await Promise.all([
      Promise.all(registrations),
      Promise.all(verifiedRegistrations),
      rotateBlindIndexKeys(["email"]),
    ]);
    expect(rotated).toEqual([{ purpose: "email", version: versionBefore + 1 }]);
    await soleHolder(email);
    expect(await soleHolder(alice.email)).toMatchObject({ id: alice.userId });
    const created = await database()
      .select({ id: auditEvents.sequence })
      .from(auditEvents)
      .where(eq(auditEvents.action, "identity.registration.created"));
    expect(created.length).toBeGreaterThanOrEqual(1);
  });
});

describe("keys:reindex", () => {
  it("an interrupted run leaves some rows on the old version; accounts are found meanwhile; a second run finishes", async () => {
    await rotateBlindIndexKeys(["email"]);
    const current = await currentBlindIndexVersion("email");
    const interruption = new AbortController();
    const partial = await reindexColumn(usersColumn, {
      batchSize: 2,
      signal: interruption.signal,
      onProgress: (progress) => {
        if (progress.processed >= 2) interruption.abort();
      },
    });
    expect(partial.reindexed).toBe(2);
    expect(partial.total).toBeGreaterThan(2);
    const left = await findIndexesOnOldVersions([usersColumn]);
    expect(left).toHaveLength(1);
    expect([...(left[0]?.countsByVersion.values() ?? [])].reduce((sum, count) => sum + count, 0)).toBe(partial.total - 2);
    expect(await signIn(alice.email)).toBe(alice.userId);
    expect(await signIn(bobNewEmail)).toBe(bob.userId);

    await reindexEverything();
    expect(await findIndexesOnOldVersions(blindIndexedColumns)).toEqual([]);
    const prefixes = await database().select({ index: users.emailBlindIndex }).from(users);
    expect(prefixes.every((row) => row.index.startsWith(`v${String(current)}:`))).toBe(true);
    const tokenIndexes = await database()
      .select({ index: userTokens.newEmailBlindIndex })
      .from(userTokens)
      .where(eq(userTokens.purpose, "email_change"));
    expect(tokenIndexes.length).toBeGreaterThan(0);
    expect(tokenIndexes.every((row) => row.index?.startsWith(`v${String(current)}:`))).toBe(true);
    expect(await signIn(alice.email)).toBe(alice.userId);
    expect(await signIn(bobNewEmail)).toBe(bob.userId);
    await registerCustomerAccount({ legalName: "Again", email: alice.email, dateOfBirth: "1970-01-01", password }, context);
    expect(await soleHolder(alice.email)).toMatchObject({ id: alice.userId });
  });

  it("does not overwrite an email change that lands between its read and its write", async () => {
    const erin = await registerVerified("erin");
    const erinNew = address("erin-new");
    await requestEmailChange(await actorFor(erin.userId), { currentPassword: password, newEmail: erinNew });
    await rotateBlindIndexKeys(["email"]);
    const current = await currentBlindIndexVersion("email");
    const read = await readIndexesOnOtherVersions(database(), usersColumn, current, null, 10_000);
    expect(read.map((row) => row.id)).toContain(erin.userId);
    const recomputed = await recomputeIndexes(usersColumn, read);
    // The change takes effect after the reindex read Erin's row and before it writes.
    await confirmEmailToken(await linkTokenSentTo(erinNew), context);
    const written = await writeRecomputedIndexes(database(), usersColumn, recomputed);
    expect(written).toBe(read.length - 1);
    expect(await soleHolder(erinNew)).toMatchObject({ id: erin.userId });
    expect((await soleHolder(erinNew)).index.startsWith(`v${String(current)}:`)).toBe(true);
    expect(await signIn(erinNew)).toBe(erin.userId);
    expect(await signIn(erin.email)).toBeNull();
    await reindexEverything();
    expect(await findIndexesOnOldVersions(blindIndexedColumns)).toEqual([]);
  });
});

describe.skipIf(!onPostgres)("the commands (PostgreSQL)", () => {
  it("keys:rotate -- blind-index:email, then keys:reindex waits, shows progress, says no row uses an old version and records keys.reindexed", async () => {
    const run = promisify(execFile);
    const { keyringPath } = environment();
    const commandEnvironment: NodeJS.ProcessEnv = { ...process.env, KEY_REFRESH_SECONDS: "5", KEYRING_PATH: keyringPath };
    const tsx = ["--conditions=react-server", "--import", "tsx"];
    const before = await currentBlindIndexVersion("email");
    const rotated = await run(process.execPath, [...tsx, "scripts/keys-rotate.ts", "blind-index:email"], { env: commandEnvironment });
    expect(rotated.stdout).toContain(`blind-index:email: version ${String(before + 1)} is now the current blind-index key`);
    const reindexed = await run(process.execPath, [...tsx, "scripts/keys-reindex.ts", "--batch-size", "3"], {
      env: commandEnvironment,
    });
    expect(reindexed.stderr).toMatch(/Waiting [\d.]+ s more \(KEY_REFRESH_SECONDS=5\)/);
    expect(reindexed.stderr).toMatch(/users\.email_blind_index \[#+\] \d+\/\d+ 100%/);
    expect(reindexed.stdout).toBe("No row uses an old blind-index key version.\n");
    const [event] = await database()
      .select()
      .from(auditEvents)
      .where(eq(auditEvents.action, "keys.reindexed"))
      .orderBy(desc(auditEvents.sequence))
      .limit(1);
    expect(event?.details).toMatchObject({ purpose: "blind-index:email", version: before + 1 });
    expect(Number(event?.details.reindexed)).toBeGreaterThan(0);
    const refused = await run(process.execPath, [...tsx, "scripts/keys-rotate.ts", "blind-index:phone"], {
      env: commandEnvironment,
    }).catch((error: unknown) => error);
    expect(refused).toMatchObject({ code: 2 });

    // keys:reencrypt (data keys) records its completion the same way, with purpose and version only.
    const reencrypted = await run(process.execPath, [...tsx, "scripts/keys-reencrypt.ts", "--purpose", "pii"], {
      env: commandEnvironment,
    });
    expect(reencrypted.stdout).toBe("No row uses an old key version.\n");
    const [reencryptedEvent] = await database()
      .select()
      .from(auditEvents)
      .where(eq(auditEvents.action, "keys.reencrypted"))
      .orderBy(desc(auditEvents.sequence))
      .limit(1);
    expect(reencryptedEvent).toMatchObject({ targetType: "data_key", targetId: "pii", details: { purpose: "pii", version: 1 } });

    // This process's keyring provider sees the command's rotation within its own refresh interval.
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    expect(await currentBlindIndexVersion("email")).toBe(before + 1);
    expect(await signIn(alice.email)).toBe(alice.userId);
    expect((await soleHolder(alice.email)).index.startsWith(`v${String(before + 1)}:`)).toBe(true);
  }, 90_000);
});
