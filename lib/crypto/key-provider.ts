/**
 * The contract between the field cipher and whatever holds the keys.
 *
 * This module deliberately does NOT begin with `import "server-only"`: it contains only types and the lists
 * of key purposes, no key material and no code that touches keys. The standalone keyring initialiser
 * (scripts/init-keyring.ts, run with plain `tsx`) needs the purpose lists through `keyring-format.ts`, and a
 * `server-only` import would make that script throw. Everything that actually loads or uses keys lives in
 * server-only modules (`local-keyring.ts`, `field-cipher.ts`, `index.ts`).
 */
import type { KeyObject } from "node:crypto";

/**
 * Each kind of data gets its own data-encryption key, so that a key leaked or misused for one purpose (for
 * example the MFA secrets) does not expose another (for example personal data), and so that purposes can be
 * rotated independently. Adding a purpose here makes the keyring schema and the initialiser require a key
 * for it, which is intended: a missing key must be noticed at start-up, not at the first write.
 */
export const dataKeyPurposes = ["pii", "mfa", "memo"] as const;
export type DataKeyPurpose = (typeof dataKeyPurposes)[number];

/**
 * Blind indexes (keyed hashes that let us look a row up by an encrypted value) use keys that are separate
 * from the data-encryption keys: an HMAC key never doubles as an AES key. They are versioned like data keys:
 * a stored index names the version it was computed with, a rotation adds a version that new writes use, and
 * look-ups try every live version until `keys:reindex` has recomputed the index columns (see
 * lib/crypto/blind-index-reindex.ts).
 */
export const blindIndexPurposes = ["email"] as const;
export type BlindIndexPurpose = (typeof blindIndexPurposes)[number];

export function isDataKeyPurpose(value: unknown): value is DataKeyPurpose {
  return typeof value === "string" && (dataKeyPurposes as readonly string[]).includes(value);
}

export function isBlindIndexPurpose(value: unknown): value is BlindIndexPurpose {
  return typeof value === "string" && (blindIndexPurposes as readonly string[]).includes(value);
}

/** The current key of a purpose together with the version number that ciphertexts are labelled with. */
export interface VersionedDataKey {
  readonly version: number;
  readonly key: KeyObject;
}

/**
 * Keys are handed out as node:crypto `KeyObject`s rather than raw `Buffer`s on purpose:
 * - a KeyObject cannot be mutated by a caller, so one careless `buffer.fill(0)` or write cannot corrupt the
 *   cached key for every later request;
 * - it does not leak its bytes when logged or serialised (`util.inspect` prints only its type and
 *   `JSON.stringify` prints `{}`), whereas a Buffer prints its contents into whatever log picks it up;
 * - `createCipheriv` and `createHmac` accept it directly, so the raw bytes never need to exist in JS again.
 *
 * All methods are asynchronous because the PKCS#11 provider talks to an HSM (unwrapping each data key once and
 * then caching it in memory, computing the pepper inside the token); the local keyring reads its file and
 * caches it too. Both re-read which version is current at most every KEY_REFRESH_SECONDS and reload once on
 * meeting a version they do not know, so that a rotation made by another process reaches them.
 * Implementations must throw (never return a placeholder) when a key is unknown or cannot be loaded, and
 * throw BankError "unavailable" when the keys cannot be reached at all (the app answers 503).
 */
export interface KeyProvider {
  /** The key new ciphertexts of this purpose are written with. */
  currentDataKey(purpose: DataKeyPurpose): Promise<VersionedDataKey>;
  /** A specific version, used to decrypt ciphertexts written before a rotation. Throws if unknown. */
  dataKey(purpose: DataKeyPurpose, version: number): Promise<KeyObject>;
  /** The HMAC key new blind indexes of this purpose are computed with (the current version's). */
  blindIndexKey(purpose: BlindIndexPurpose): Promise<KeyObject>;
  /**
   * HMAC-SHA256 of the password's UTF-8 bytes under the password pepper (NIST SP 800-63B), computed where the
   * pepper lives: inside the token for PKCS#11, so that the pepper never enters this process there.
   */
  pepperPassword(password: string): Promise<Buffer>;
  /** Makes a new version of this purpose's data key the current one for new writes; returns its number. */
  rotateDataKey(purpose: DataKeyPurpose): Promise<number>;
  /**
   * Every live version of this purpose's blind-index key, the current one first and then the others from
   * newest to oldest. Like `currentDataKey`, it re-reads which versions exist once the last read is older than
   * KEY_REFRESH_SECONDS, so that look-ups in every instance try a version another process has just added;
   * with `reread`, it reads them now (lib/identity/email-uniqueness.ts needs every version that exists).
   */
  blindIndexKeys(purpose: BlindIndexPurpose, options?: BlindIndexKeysOptions): Promise<BlindIndexKeyVersions>;
  /** Makes a new version of this purpose's blind-index key the current one for new writes; returns its number. */
  rotateBlindIndexKey(purpose: BlindIndexPurpose): Promise<number>;
  /**
   * Wraps the random key of one database backup file (lib/backup) for storage in that file's header: with
   * PKCS#11 under the token's key-encryption key, inside the token, so that the backup is useless without the
   * HSM; with the local keyring under its dedicated backup key. It never depends on `data_keys`, because the
   * database a backup is restored into does not have that table yet.
   */
  wrapBackupKey(fileKey: Buffer): Promise<WrappedBackupKey>;
  /**
   * Unwraps a key made by `wrapBackupKey`. Throws BankError "invalid_input" with a sentence naming both sides
   * when the backup was wrapped by another provider, token, key or keyring, and never returns a wrong key.
   */
  unwrapBackupKey(wrapped: WrappedBackupKey): Promise<Buffer>;
  /**
   * HMAC-SHA256 of an audit checkpoint message under the audit-checkpoint key (lib/audit): a non-extractable
   * HMAC key used inside the token for PKCS#11, a keyring entry for the local provider. Checkpoints signed with
   * it make a consistently rewritten audit chain detectable.
   */
  signAuditCheckpoint(message: Buffer): Promise<Buffer>;
}

/**
 * A backup file key as stored in a backup's header: which kind of provider wrapped it, which key did (a label
 * that a restore compares with its own before trying, so that a mismatch is reported as such rather than as a
 * failed decryption), and the wrapped bytes as text.
 */
export interface WrappedBackupKey {
  readonly provider: "local" | "pkcs11";
  readonly keyLabel: string;
  readonly wrappedKey: string;
}

export interface BlindIndexKeysOptions {
  /** Read which versions exist now rather than within KEY_REFRESH_SECONDS (costs a file read or a query). */
  readonly reread?: boolean;
}

/** The live versions of one blind-index key: the current version first, then the older ones, newest first. */
export type BlindIndexKeyVersions = readonly [VersionedDataKey, ...VersionedDataKey[]];

/** Every key in this module is a 256-bit key: AES-256-GCM for data, HMAC-SHA256 for blind indexes. */
export const keyLengthInBytes = 32;
