import "server-only";
/**
 * One account per email address, also while blind-index key versions are mixed.
 *
 * The unique constraint on users.email_blind_index keeps two accounts from storing the same index. After a
 * rotation of the blind-index key, though, one address has a different index under each live version
 * (`v1:…` and `v2:…`), and until `keys:reindex` has recomputed every row, an account found under `v1:…` and a
 * new registration stored under `v2:…` would both satisfy the constraint. So every write that gives an
 * address to an account (a registration, an email change taking effect) goes through here, in its own
 * transaction:
 * 1. a transaction-scoped advisory lock derived from the address, so that two such writes for one address
 *    take turns (the second waits until the first commits or rolls back);
 * 2. a look-up of the address under every live version, which then sees whatever the first write committed
 *    (READ COMMITTED takes a new snapshot per statement, after the lock was granted);
 * 3. the caller's insert or update, storing the index under the current version.
 *
 * The lock is derived from the index under the *oldest* live version, not the current one: versions are only
 * ever added, so every process knows the oldest, whereas an instance that has not yet re-read its keys after a
 * rotation (up to KEY_REFRESH_SECONDS) would derive a different lock from what it believes is current, and
 * two writes for one address could then run side by side. Deriving it from the HMAC (rather than, say, a hash
 * of the plain address) keeps the address itself out of pg_locks. Only 32 bits of it are used: two addresses
 * that share a lock merely wait for each other, which costs nothing noticeable at these rates.
 *
 * The constraint stays: it still refuses two equal indexes of the same version without any lock, for example
 * from a writer that forgot to come here.
 */
import { inArray, sql } from "drizzle-orm";
import { executeRows, type Transaction } from "@/db/client";
import { users } from "@/db/schema";
import { blindIndexUnderEveryVersion, normaliseEmail } from "@/lib/crypto";
import { BankError } from "@/lib/errors";

/**
 * The first key of the two-key form of pg_advisory_xact_lock, naming "email address uniqueness". PostgreSQL
 * keeps the two-key and the one-key (bigint) lock spaces apart, so these locks cannot collide with the
 * one-key lock the demo seed takes.
 */
const emailUniquenessLockClass = 7_001;

/** An address's indexes, computed before the transaction that claims it (key look-ups stay out of it). */
export interface EmailClaim {
  /** The index to store: under the current key version. */
  readonly index: string;
  /** The index under every live version, current first: what an existing holder may have stored. */
  readonly indexesUnderEveryVersion: readonly string[];
  /** 32 bits of the index under the oldest live version (see the module comment). */
  readonly lockKey: number;
}

export interface EmailHolder {
  readonly id: string;
  readonly emailVerifiedAt: Date | null;
  readonly emailCiphertext: string;
}

export async function prepareEmailClaim(email: string): Promise<EmailClaim> {
  const versions = await blindIndexUnderEveryVersion("email", normaliseEmail(email));
  const [current] = versions;
  if (current === undefined) {
    throw new BankError("internal", { internalMessage: "the key provider returned no blind-index key version" });
  }
  const oldest = versions.reduce((older, entry) => (entry.version < older.version ? entry : older), current);
  // The stored text is `v<version>:<64 hex digits>`; the lock uses the first eight hex digits of the HMAC.
  const digest = oldest.index.slice(oldest.index.indexOf(":") + 1);
  return {
    index: current.index,
    indexesUnderEveryVersion: versions.map((entry) => entry.index),
    lockKey: Buffer.from(digest.slice(0, 8), "hex").readInt32BE(0),
  };
}

/**
 * Takes the address's lock for the rest of `transaction` and returns the accounts that hold the address under
 * any live version, locked for update. The caller then inserts or updates in the same transaction, storing
 * `claim.index`.
 */
export async function lockEmailAndFindHolders(transaction: Transaction, claim: EmailClaim): Promise<EmailHolder[]> {
  await executeRows(
    transaction,
    sql`select pg_advisory_xact_lock(${emailUniquenessLockClass}::int, ${claim.lockKey}::int)::text as locked`,
  );
  return transaction
    .select({ id: users.id, emailVerifiedAt: users.emailVerifiedAt, emailCiphertext: users.emailCiphertext })
    .from(users)
    .where(inArray(users.emailBlindIndex, [...claim.indexesUnderEveryVersion]))
    .orderBy(users.id)
    .for("update");
}
