import "server-only";
/**
 * One account per email address, also while blind-index key versions are mixed.
 *
 * The unique constraint on users.email_blind_index keeps two accounts from storing the same index. After a
 * rotation of the blind-index key, though, one address has a different index under each live version
 * (`v1:…` and `v2:…`), and until `keys:reindex` has recomputed every row, an account found under `v1:…` and a
 * new registration stored under `v2:…` would both satisfy the constraint. So every write that gives an
 * address to an account (a registration, an email change taking effect) claims it here, inside its own
 * transaction:
 * 1. a transaction-scoped advisory lock derived from the address, so that two such writes for one address
 *    take turns (the second waits until the first commits or rolls back);
 * 2. the key versions read again, now that the lock is held (see below);
 * 3. a look-up of the address under every one of those versions, which sees whatever an earlier holder of the
 *    lock committed (READ COMMITTED takes a new snapshot per statement, after the lock was granted);
 * 4. the caller's insert or update, storing the index under the current version.
 *
 * The lock is derived from the index under the *oldest* live version, not the current one: versions are only
 * ever added, so every process knows the oldest, whereas an instance that has not yet re-read its keys after a
 * rotation (up to KEY_REFRESH_SECONDS) would derive a different lock from what it believes is current.
 *
 * Step 2 closes the other half of that window: such an instance would look up only the versions it knows and
 * miss an account that an up-to-date instance has just stored under the new version. A version is stored
 * before anything is indexed with it, so re-reading the versions after the lock is granted finds every
 * version that any committed row can be under. It costs a read of the keyring file or one query of
 * data_keys per registration or email change, next to an argon2 hash.
 *
 * Deriving the lock from the HMAC (rather than from the plain address) keeps the address out of pg_locks.
 * Only 32 bits are used: two addresses that share a lock merely wait for each other. The constraint stays as
 * a second line, refusing two equal indexes of one version even from a writer that did not come here.
 */
import { inArray, sql } from "drizzle-orm";
import { executeRows, type Transaction } from "@/db/client";
import { users } from "@/db/schema";
import { blindIndexUnderEveryVersion, normaliseEmail, type VersionedBlindIndex } from "@/lib/crypto";
import { BankError } from "@/lib/errors";

/**
 * The first key of the two-key form of pg_advisory_xact_lock, naming "email address uniqueness". PostgreSQL
 * keeps the two-key and the one-key (bigint) lock spaces apart, so these locks cannot collide with the
 * one-key lock the demo seed takes.
 */
const emailUniquenessLockClass = 7_001;

/** Where the address's indexes come from: the application's key provider, or a test's stand-in instance. */
export type EmailIndexSource = (email: string, options: { reread: boolean }) => Promise<readonly VersionedBlindIndex[]>;

const applicationIndexes: EmailIndexSource = (email, options) => blindIndexUnderEveryVersion("email", email, options);

export interface EmailHolder {
  readonly id: string;
  readonly emailVerifiedAt: Date | null;
  readonly emailCiphertext: string;
}

export interface ClaimedEmailAddress {
  /** The index to store: under the current key version. */
  readonly index: string;
  /** The accounts that hold the address under any live version, locked for update (normally none or one). */
  readonly holders: readonly EmailHolder[];
}

/** 32 bits of the address's index under the oldest version these indexes include. */
export function emailLockKey(versions: readonly VersionedBlindIndex[]): number {
  const [first] = versions;
  if (first === undefined) {
    throw new BankError("internal", { internalMessage: "the key provider returned no blind-index key version" });
  }
  const oldest = versions.reduce((older, entry) => (entry.version < older.version ? entry : older), first);
  // The stored text is `v<version>:<64 hex digits>`; the lock uses the first eight hex digits of the HMAC.
  const digest = oldest.index.slice(oldest.index.indexOf(":") + 1);
  return Buffer.from(digest.slice(0, 8), "hex").readInt32BE(0);
}

/**
 * Takes the address's lock for the rest of `transaction` and returns the index to store and the accounts
 * that already hold the address under any version (locked for update). The caller then inserts or updates in
 * the same transaction. `source` is for tests that stand in for another app instance.
 */
export async function claimEmailAddress(
  transaction: Transaction,
  email: string,
  source: EmailIndexSource = applicationIndexes,
): Promise<ClaimedEmailAddress> {
  const normalised = normaliseEmail(email);
  const lockKey = emailLockKey(await source(normalised, { reread: false }));
  await executeRows(
    transaction,
    sql`select pg_advisory_xact_lock(${emailUniquenessLockClass}::int, ${lockKey}::int)::text as locked`,
  );
  const versions = await source(normalised, { reread: true });
  const [current] = versions;
  if (current === undefined) {
    throw new BankError("internal", { internalMessage: "the key provider returned no blind-index key version" });
  }
  const holders = await transaction
    .select({ id: users.id, emailVerifiedAt: users.emailVerifiedAt, emailCiphertext: users.emailCiphertext })
    .from(users)
    .where(inArray(users.emailBlindIndex, versions.map((entry) => entry.index)))
    .orderBy(users.id)
    .for("update");
  return { index: current.index, holders };
}
