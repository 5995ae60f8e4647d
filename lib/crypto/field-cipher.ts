import "server-only";
/**
 * Field-level encryption of individual database columns with AES-256-GCM, plus blind indexes.
 *
 * Ciphertext format (one ASCII string, safe to store in a text column):
 *
 *   v1:<purpose>:<key version>:<iv>:<ciphertext and tag>
 *   e.g. v1:pii:3:q2X0b1kD0y8Jc7aP:4Hc0...Yw
 *
 * - `v1` is the version of this envelope format, so a future format can be recognised instead of misparsed.
 * - `<purpose>` is the data-key purpose ("pii", "mfa", "memo") and `<key version>` the version of that
 *   purpose's key that encrypted the value; decryption picks the key by this version, so values written
 *   before a key rotation keep decrypting.
 * - `<iv>` is the 96-bit nonce, base64url without padding (16 characters).
 * - `<ciphertext and tag>` is the encrypted UTF-8 plaintext followed by the 128-bit GCM tag, base64url
 *   without padding. An empty plaintext gives just the tag.
 *
 * The prefix is readable but not trusted: every part of it is also inside the additional authenticated data
 * (AAD), together with the table, column and row id. Relabelling the version or purpose, or copying a
 * ciphertext into another row, column or table, therefore makes the GCM tag check fail.
 */
import { createCipheriv, createDecipheriv, createHmac, randomBytes, type KeyObject } from "node:crypto";
import { BankError } from "@/lib/errors";
import {
  isBlindIndexPurpose,
  isDataKeyPurpose,
  keyLengthInBytes,
  type BlindIndexKeysOptions,
  type BlindIndexPurpose,
  type DataKeyPurpose,
  type KeyProvider,
} from "@/lib/crypto/key-provider";
import { normaliseEmail } from "@/lib/crypto/normalise";

/** Where an encrypted value lives. All three parts are bound into the ciphertext. */
export interface FieldContext {
  readonly table: string;
  readonly column: string;
  readonly rowId: string;
}

export interface FieldCipher {
  encryptField(plaintext: string, context: FieldContext, purpose?: DataKeyPurpose): Promise<string>;
  decryptField(ciphertext: string, context: FieldContext, purpose?: DataKeyPurpose): Promise<string>;
  /** The stored form of `value`'s index under the current key version (what new writes store). */
  blindIndex(purpose: BlindIndexPurpose, value: string): Promise<string>;
  /** The stored form of `value`'s index under every live key version, the current one first. */
  blindIndexUnderEveryVersion(
    purpose: BlindIndexPurpose,
    value: string,
    options?: BlindIndexKeysOptions,
  ): Promise<VersionedBlindIndex[]>;
}

export interface VersionedBlindIndex {
  readonly version: number;
  /** The stored text, `v<version>:<hex>`. */
  readonly index: string;
}

/**
 * Stored blind-index format: `v<key version>:<HMAC-SHA256 as 64 lower-case hex digits>`, e.g. `v2:3f1c…`.
 *
 * The version is a prefix of the one stored value rather than a column of its own, because:
 * - every index column (users.email_blind_index, user_tokens.new_email_blind_index) then carries its version
 *   without a schema change, and a value copied from one column to another (an email change copies the
 *   token's index onto the user) cannot be separated from the version it was computed with;
 * - look-ups and the unique constraint keep working on one column with its existing index: a look-up during
 *   a rotation is `index IN (v1:…, v2:…)`, one index scan, where a version column would need a composite
 *   index and every writer to set two columns consistently;
 * - indexes of different versions are different strings, so the unique constraint never mistakes them for
 *   each other (it cannot see that they name the same address either: lib/identity/email-uniqueness.ts keeps
 *   one account per address while versions are mixed).
 * Values written before versions existed were bare hex; migration 0009 prefixed them with `v1:`.
 */
const storedBlindIndexPattern = /^v([1-9][0-9]{0,8}):[0-9a-f]{64}$/;

/** The key version a stored blind index was computed with, or undefined if it is not in the stored format. */
export function blindIndexVersionOf(stored: string): number | undefined {
  const match = storedBlindIndexPattern.exec(stored);
  return match?.[1] === undefined ? undefined : Number(match[1]);
}

/** The text every stored index of this version begins with (for counting and selecting by version in SQL). */
export function blindIndexVersionPrefix(version: number): string {
  return `v${String(version)}:`;
}

const envelopeVersion = "v1";
const algorithm = "aes-256-gcm";
// 96 bits is the IV length GCM is designed for: other lengths are hashed into a counter block, which weakens
// the collision bound. Random 96-bit IVs are safe for up to about 2^32 encryptions per key (NIST SP 800-38D),
// far more than one key version will ever see here; rotation resets the count.
const ivLengthInBytes = 12;
// The full 128-bit tag; shorter tags trade away forgery resistance for a few bytes of storage.
const tagLengthInBytes = 16;
// A label at the start of the AAD, so that these tags can never be confused with any other use of GCM.
const additionalDataLabel = "bank/field-encryption";

/**
 * Each blind-index purpose names the normalisation its values always go through. Applying it here, rather
 * than trusting every caller to do it first, means a forgotten call cannot produce an index that silently
 * fails to match. The normalisers are idempotent, so callers that do normalise first get the same result.
 */
const blindIndexNormalisers: Record<BlindIndexPurpose, (value: string) => string> = {
  email: normaliseEmail,
};

/** Lone UTF-16 surrogates; with the `u` flag a well-formed surrogate pair is one code point and not matched. */
const loneSurrogate = /\p{Cs}/u;
const base64UrlAlphabet = /^[A-Za-z0-9_-]*$/;
const keyVersionPattern = /^[1-9][0-9]{0,8}$/;
// `fatal` makes invalid UTF-8 throw instead of being replaced with U+FFFD, so that a decrypted value is
// either exactly what was encrypted or an error.
const strictUtf8Decoder = new TextDecoder("utf-8", { fatal: true });

export function createFieldCipher(provider: KeyProvider): FieldCipher {
  return {
    async encryptField(plaintext, context, purpose = "pii") {
      try {
        checkPurpose(purpose);
        checkContext(context);
        if (typeof plaintext !== "string") throw new TypeError("plaintext must be a string");
        // Buffer.from would silently replace a lone surrogate with U+FFFD, so the value that came back out
        // would differ from the one stored; refuse instead of altering data.
        if (loneSurrogate.test(plaintext)) throw new TypeError("plaintext is not well-formed UTF-16");

        const { version, key } = await provider.currentDataKey(purpose);
        checkKey(key);
        // A fresh random IV for every encryption: reusing an IV under the same GCM key reveals the XOR of
        // the plaintexts and lets an attacker forge tags, so it is never derived from the data or a counter
        // that could repeat across processes.
        const iv = randomBytes(ivLengthInBytes);
        const cipher = createCipheriv(algorithm, key, iv, { authTagLength: tagLengthInBytes });
        cipher.setAAD(additionalData(purpose, version, context));
        const encrypted = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final(), cipher.getAuthTag()]);
        const encodedIv = iv.toString("base64url");
        return [envelopeVersion, purpose, String(version), encodedIv, encrypted.toString("base64url")].join(":");
      } catch (cause) {
        rethrowIfUnavailable(cause);
        // Never return the input or an unencrypted value: the caller would store plaintext believing it safe.
        throw new BankError("internal", { internalMessage: "field encryption failed", cause });
      }
    },

    async decryptField(ciphertext, context, purpose = "pii") {
      try {
        checkPurpose(purpose);
        checkContext(context);
        const envelope = parseEnvelope(ciphertext, purpose);
        const key = await provider.dataKey(purpose, envelope.version);
        checkKey(key);
        const decipher = createDecipheriv(algorithm, key, envelope.iv, { authTagLength: tagLengthInBytes });
        decipher.setAAD(additionalData(purpose, envelope.version, context));
        decipher.setAuthTag(envelope.tag);
        // GCM releases plaintext from update() before the tag is checked in final(); nothing is returned or
        // decoded until final() has succeeded, so a tampered value never yields even partial data.
        const plaintext = Buffer.concat([decipher.update(envelope.encrypted), decipher.final()]);
        return strictUtf8Decoder.decode(plaintext);
      } catch (cause) {
        rethrowIfUnavailable(cause);
        // One error for every failure (malformed, unknown version, wrong context, tampering), so callers
        // cannot accidentally treat some failures as "no value"; the cause says which it was, for the logs.
        throw new BankError("internal", { internalMessage: "field decryption failed", cause });
      }
    },

    async blindIndex(purpose, value) {
      try {
        const normalised = normaliseForBlindIndex(purpose, value);
        const [current] = await provider.blindIndexKeys(purpose);
        return storedBlindIndex(current.version, current.key, normalised);
      } catch (cause) {
        rethrowIfUnavailable(cause);
        throw new BankError("internal", { internalMessage: "blind index computation failed", cause });
      }
    },

    async blindIndexUnderEveryVersion(purpose, value, options) {
      try {
        const normalised = normaliseForBlindIndex(purpose, value);
        const versions = await provider.blindIndexKeys(purpose, options);
        return versions.map(({ version, key }) => ({ version, index: storedBlindIndex(version, key, normalised) }));
      } catch (cause) {
        rethrowIfUnavailable(cause);
        throw new BankError("internal", { internalMessage: "blind index computation failed", cause });
      }
    },
  };
}

function normaliseForBlindIndex(purpose: BlindIndexPurpose, value: string): string {
  if (!isBlindIndexPurpose(purpose)) throw new TypeError(`unknown blind-index purpose ${String(purpose)}`);
  if (typeof value !== "string") throw new TypeError("blind-index value must be a string");
  const normalised = blindIndexNormalisers[purpose](value);
  if (loneSurrogate.test(normalised)) throw new TypeError("blind-index value is not well-formed UTF-16");
  return normalised;
}

function storedBlindIndex(version: number, key: KeyObject, normalised: string): string {
  checkKey(key);
  // HMAC-SHA256 under a secret key: deterministic (so equal values can be looked up by equality) but, unlike
  // a plain hash, not computable by someone holding only the database, who could otherwise confirm guessed
  // email addresses offline. Lower-case hex is used because it compares the same under every database
  // collation, including case-insensitive ones where base64 values could collide.
  const digest = createHmac("sha256", key).update(normalised, "utf8").digest("hex");
  return `${blindIndexVersionPrefix(version)}${digest}`;
}

/**
 * A key provider that cannot reach its keys (an HSM that is down, a wrong PIN) reports "unavailable", which
 * the app answers with 503 and which clears up by itself when the keys are reachable again. Turning that into
 * "internal" (500) would tell clients and monitoring that something is broken in the data instead.
 */
function rethrowIfUnavailable(cause: unknown): void {
  if (cause instanceof BankError && cause.code === "unavailable") throw cause;
}

interface Envelope {
  readonly version: number;
  readonly iv: Buffer;
  readonly encrypted: Buffer;
  readonly tag: Buffer;
}

/**
 * Strict parsing: exactly five parts, known envelope version, the expected purpose, a canonical version
 * number and canonical base64url of the right lengths. Lenient decoding (Node's base64 decoder skips invalid
 * characters) would accept values that are not what we wrote, which hides corruption and widens what an
 * attacker can submit; the tag check would still fail, but we prefer to reject before touching keys.
 */
function parseEnvelope(ciphertext: string, expectedPurpose: DataKeyPurpose): Envelope {
  if (typeof ciphertext !== "string") throw new TypeError("ciphertext must be a string");
  const parts = ciphertext.split(":");
  if (parts.length !== 5) throw new Error("malformed ciphertext: expected five colon-separated parts");
  const [envelopeLabel, purposeLabel, versionLabel, encodedIv, encodedBody] = parts as [
    string,
    string,
    string,
    string,
    string,
  ];
  if (envelopeLabel !== envelopeVersion) throw new Error("malformed ciphertext: unknown envelope version");
  // A value encrypted for one purpose is never decrypted with another purpose's key, even if it were valid.
  if (purposeLabel !== expectedPurpose) throw new Error("ciphertext purpose does not match the requested purpose");
  if (!keyVersionPattern.test(versionLabel)) throw new Error("malformed ciphertext: invalid key version");
  const iv = decodeBase64Url(encodedIv, "iv");
  if (iv.length !== ivLengthInBytes) throw new Error("malformed ciphertext: wrong iv length");
  const body = decodeBase64Url(encodedBody, "body");
  if (body.length < tagLengthInBytes) throw new Error("malformed ciphertext: too short to hold a tag");
  return {
    version: Number(versionLabel),
    iv,
    encrypted: body.subarray(0, body.length - tagLengthInBytes),
    tag: body.subarray(body.length - tagLengthInBytes),
  };
}

function decodeBase64Url(encoded: string, part: string): Buffer {
  if (!base64UrlAlphabet.test(encoded)) throw new Error(`malformed ciphertext: ${part} is not base64url`);
  const decoded = Buffer.from(encoded, "base64url");
  // Re-encoding must give back the same text; this rejects stray trailing bits and impossible lengths.
  if (decoded.toString("base64url") !== encoded) throw new Error(`malformed ciphertext: ${part} is not canonical`);
  return decoded;
}

/**
 * The AAD is a JSON array rather than the parts joined with a separator: JSON encoding of a list of strings
 * and numbers is unambiguous, whereas with a plain join table "a:b" + column "c" and table "a" + column "b:c"
 * would authenticate identically and a ciphertext could be moved between them.
 */
function additionalData(purpose: DataKeyPurpose, version: number, context: FieldContext): Buffer {
  const parts = [additionalDataLabel, envelopeVersion, purpose, version, context.table, context.column, context.rowId];
  return Buffer.from(JSON.stringify(parts), "utf8");
}

function checkPurpose(purpose: DataKeyPurpose): void {
  if (!isDataKeyPurpose(purpose)) throw new TypeError(`unknown data-key purpose ${String(purpose)}`);
}

/**
 * Empty parts are refused: an empty row id typically means the row has no id yet, and binding to "" would
 * let such ciphertexts be swapped between all rows that were encrypted that way.
 */
function checkContext(context: FieldContext): void {
  for (const part of ["table", "column", "rowId"] as const) {
    const value: unknown = context[part];
    if (typeof value !== "string" || value.length === 0) {
      throw new TypeError(`encryption context ${part} must be a non-empty string`);
    }
  }
}

/**
 * Guards against a provider (today's or the future PKCS#11 one) handing back the wrong kind of key. AES-256
 * and our HMAC keys are exactly 32 bytes; node:crypto would reject a wrong-length AES key only with a vague
 * message, and it accepts an HMAC key of any length (even empty) without complaint.
 */
function checkKey(key: KeyObject): void {
  if (key.type !== "secret" || key.symmetricKeySize !== keyLengthInBytes) {
    throw new TypeError(`key provider returned a key that is not a ${keyLengthInBytes}-byte secret key`);
  }
}
