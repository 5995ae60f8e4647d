import "server-only";
/**
 * The entry point the rest of the application uses for field encryption. It picks the key provider from the
 * validated configuration and exposes the cipher's operations as plain functions.
 *
 * The provider is built lazily, on the first call, rather than at import time: importing this module must
 * not read the keyring or contact an HSM (that would happen during `next build` and in every test that merely
 * imports a module depending on this one), and a configuration problem then surfaces as a failed operation
 * with a clear error. Once built, the provider and its cached keys live for the life of the process.
 */
import { env } from "@/lib/env";
import { BankError } from "@/lib/errors";
import { createFieldCipher, type FieldCipher, type FieldContext, type VersionedBlindIndex } from "@/lib/crypto/field-cipher";
import { keyLengthInBytes, type BlindIndexPurpose, type DataKeyPurpose, type KeyProvider } from "@/lib/crypto/key-provider";
import type { BlindIndexKeysOptions } from "@/lib/crypto/key-provider";
import { createLocalKeyring } from "@/lib/crypto/local-keyring";
import { sharedPkcs11Provider } from "@/lib/crypto/pkcs11-provider";

export { normaliseEmail } from "@/lib/crypto/normalise";
export type { FieldContext, VersionedBlindIndex } from "@/lib/crypto/field-cipher";
export type { BlindIndexPurpose, DataKeyPurpose } from "@/lib/crypto/key-provider";

let sharedProvider: KeyProvider | undefined;
let sharedCipher: FieldCipher | undefined;

function configuredProvider(): KeyProvider {
  const configuration = env();
  switch (configuration.keyProvider) {
    case "local":
      return createLocalKeyring(configuration.keyringPath, {
        currentVersionRefreshSeconds: configuration.keyRefreshSeconds,
      });
    case "pkcs11":
      // One provider per process (its session and unwrapped keys are shared); it connects to the token on
      // first use, or at start-up through instrumentation.ts. Never a fallback to the local keyring: that would
      // put production data under keys sitting in a plain file.
      return sharedPkcs11Provider();
    default:
      // Unreachable while the configuration schema allows only the values above; a new value added there
      // without a provider here must fail loudly instead of leaving the application without keys.
      throw new BankError("unavailable", {
        internalMessage: `no key provider is built for ${String(configuration.keyProvider)}`,
      });
  }
}

// Only a successfully built provider is remembered, so a failure is reported again on every call. The field
// cipher, the password pepper and `rotateDataKey` share it, and with it the keys it has loaded, so that a
// rotation made through this module is seen at once by the cipher of the same process.
function keyProvider(): KeyProvider {
  sharedProvider ??= configuredProvider();
  return sharedProvider;
}

function fieldCipher(): FieldCipher {
  sharedCipher ??= createFieldCipher(keyProvider());
  return sharedCipher;
}

// These wrappers are `async` so that a failure to build the provider arrives as a rejected promise, exactly
// like every other failure of these operations, instead of as a synchronous throw that callers might not
// expect from a function returning a promise.

/** Encrypts `plaintext` for the given table, column and row. Throws on any failure; never returns the input. */
export async function encryptField(
  plaintext: string,
  context: FieldContext,
  purpose: DataKeyPurpose = "pii",
): Promise<string> {
  return fieldCipher().encryptField(plaintext, context, purpose);
}

/** Decrypts a value written by `encryptField` for the same table, column, row and purpose, or throws. */
export async function decryptField(
  ciphertext: string,
  context: FieldContext,
  purpose: DataKeyPurpose = "pii",
): Promise<string> {
  return fieldCipher().decryptField(ciphertext, context, purpose);
}

/** The keyed, deterministic index of `value` (normalised for its purpose first), as lower-case hex. */
export async function blindIndex(purpose: BlindIndexPurpose, value: string): Promise<string> {
  return fieldCipher().blindIndex(purpose, value);
}

// Blind-index versions (rotation of blind-index keys). While `keys:reindex` has not yet recomputed every
// stored index under the current version, a value may be stored under any live version, so look-ups match
// against all of them; new writes always store `blindIndex`'s current-version value.

/**
 * The stored indexes `value` can have, one per live key version (current first): look-ups match any of them,
 * with `inArray(column, await blindIndexLookup(...))`, so that rows not yet reindexed are still found.
 */
export async function blindIndexLookup(purpose: BlindIndexPurpose, value: string): Promise<string[]> {
  return (await fieldCipher().blindIndexUnderEveryVersion(purpose, value)).map((entry) => entry.index);
}

/** Like `blindIndexLookup`, with each index's key version; `reread` reads which versions exist now. */
export async function blindIndexUnderEveryVersion(
  purpose: BlindIndexPurpose,
  value: string,
  options?: BlindIndexKeysOptions,
): Promise<VersionedBlindIndex[]> {
  return fieldCipher().blindIndexUnderEveryVersion(purpose, value, options);
}

/**
 * Adds a new version of `purpose`'s blind-index key and makes it current for new writes in this process at
 * once, and in every other running instance within KEY_REFRESH_SECONDS; returns the new version's number.
 * Stored indexes keep matching (look-ups try every live version) until `keys:reindex` recomputes them.
 */
export async function rotateBlindIndexKey(purpose: BlindIndexPurpose): Promise<number> {
  return keyProvider().rotateBlindIndexKey(purpose);
}

/** The version new blind indexes of this purpose are computed with (as this process currently sees it). */
export async function currentBlindIndexVersion(purpose: BlindIndexPurpose): Promise<number> {
  const [current] = await keyProvider().blindIndexKeys(purpose);
  return current.version;
}

/**
 * HMAC-SHA256 of the password under the password pepper: the 32 bytes that lib/auth/password.ts hands to
 * argon2id instead of the password. Throws when the provider cannot compute it; there is no unpeppered
 * fallback, because hashes made without the pepper would be exactly the ones a stolen database can attack.
 */
export async function pepperPassword(password: string): Promise<Buffer> {
  const peppered = await keyProvider().pepperPassword(password);
  // A provider (today's or a PKCS#11 one) that returned anything but a full SHA-256 digest would weaken every
  // hash made from it without any visible failure, so the length is checked at this one boundary.
  if (!Buffer.isBuffer(peppered) || peppered.length !== keyLengthInBytes) {
    throw new BankError("internal", {
      internalMessage: `key provider returned a password pepper result that is not ${keyLengthInBytes} bytes`,
    });
  }
  return peppered;
}

/**
 * Adds a new version of `purpose`'s data key and makes it current for new writes in this process at once, and
 * in every other running instance within KEY_REFRESH_SECONDS; returns the new version's number. Existing
 * ciphertexts keep decrypting with their own version until `keys:reencrypt` rewrites them.
 */
export async function rotateDataKey(purpose: DataKeyPurpose): Promise<number> {
  return keyProvider().rotateDataKey(purpose);
}

/** The version new values of this purpose are written with (as this process currently sees it). */
export async function currentDataKeyVersion(purpose: DataKeyPurpose): Promise<number> {
  return (await keyProvider().currentDataKey(purpose)).version;
}

/**
 * Throws unless the configured keys can be used now: for the token, a live session and the data keys loaded;
 * for the local keyring, the file read and valid. For the readiness check (app/api/ready), which must notice a
 * token that went away even while cached keys still serve requests.
 */
export async function checkKeysAvailable(): Promise<void> {
  if (env().keyProvider === "pkcs11") {
    await sharedPkcs11Provider().checkAvailable();
    return;
  }
  await keyProvider().currentDataKey("pii");
}

/**
 * The configured provider's backup-key methods, for the encrypted database backup (lib/backup,
 * scripts/db-backup.ts): a backup's file key is wrapped where the other keys live (the token's
 * key-encryption key, or the local keyring's backup key), never by anything the backup itself contains.
 */
export function backupKeyWrapping(): Pick<KeyProvider, "wrapBackupKey" | "unwrapBackupKey"> {
  const provider = keyProvider();
  return {
    wrapBackupKey: (fileKey) => provider.wrapBackupKey(fileKey),
    unwrapBackupKey: (wrapped) => provider.unwrapBackupKey(wrapped),
  };
}

/**
 * HMAC-SHA256 of an audit checkpoint message (lib/audit/audit-chain-encoding.ts) under the audit-checkpoint
 * key, computed where that key lives (inside the token for PKCS#11). The sealer signs the chain head with it
 * and `audit:verify` recomputes it; like the pepper, a result that is not a full digest is refused here.
 */
export async function signAuditCheckpoint(message: Buffer): Promise<Buffer> {
  const signature = await keyProvider().signAuditCheckpoint(message);
  if (!Buffer.isBuffer(signature) || signature.length !== keyLengthInBytes) {
    throw new BankError("internal", {
      internalMessage: `key provider returned an audit checkpoint signature that is not ${keyLengthInBytes} bytes`,
    });
  }
  return signature;
}
