/**
 * The on-disk format of the local keyring, shared by the server-side provider (`local-keyring.ts`) and the
 * standalone initialiser (`scripts/init-keyring.ts`). It is free of `server-only` because that script runs
 * under plain `tsx`; it must therefore stay free of any import that is server-only (it imports only
 * node built-ins, zod, `key-provider.ts` and `lib/errors.ts`, none of which are).
 *
 * Format (version 1), a JSON object:
 *
 *   {
 *     "format": 1,
 *     "dataKeys": {
 *       "pii":  { "current": 2, "versions": { "1": "<base64, 32 bytes>", "2": "<base64, 32 bytes>" } },
 *       "mfa":  { "current": 1, "versions": { "1": "<base64, 32 bytes>" } },
 *       "memo": { "current": 1, "versions": { "1": "<base64, 32 bytes>" } }
 *     },
 *     "blindIndexKeys": {
 *       "email": { "current": 2, "versions": { "1": "<base64, 32 bytes>", "2": "<base64, 32 bytes>" } }
 *     },
 *     "passwordPepper": "<base64, 32 bytes>",
 *     "backupKey": "<base64, 32 bytes>",
 *     "auditCheckpointKey": "<base64, 32 bytes>"
 *   }
 *
 * - `format` lets a future layout be told apart instead of being misread as this one.
 * - Every data-key purpose must be present; `current` names the version new ciphertexts are written with and
 *   must exist in `versions`. Old versions stay in the file after a rotation so that existing ciphertexts,
 *   which carry their key version, still decrypt. Version labels are positive decimal integers without leading
 *   zeros, so that "1" and "01" cannot name two different keys.
 * - `blindIndexKeys` have versions like data keys (`keys:rotate -- blind-index:email` adds one). Keyrings written
 *   before blind-index rotation existed hold one bare key per purpose (`"email": "<base64>"`); that shape is
 *   still accepted and read as version 1, current, so that every stored index computed with it keeps matching,
 *   and the next write of the file (any rotation, or the pepper upgrade) stores it in the versioned shape with
 *   the same key bytes. The format number stays 1 because old files remain readable as they are.
 * - `passwordPepper` is the HMAC-SHA256 key that every password goes through before argon2id (NIST SP 800-63B
 *   calls it a pepper; see lib/auth/password.ts). It has no versions: there is one pepper, and the stored
 *   hashes name the pepper version they were made with, so that a later rotation can add a second one.
 *   Keyring files written before the pepper existed lack this field; they are otherwise valid format 1 files,
 *   so the format number stays 1 and `scripts/init-keyring.ts` adds the pepper in place
 *   (`keyring-upgrade.ts`). The provider refuses such a file with a message naming that script.
 * - `backupKey` is the AES-256 key that wraps the random key of each encrypted database backup (lib/backup,
 *   `npm run db:backup`). It is optional in the schema so that the app keeps starting on a keyring written
 *   before backups existed; `scripts/init-keyring.ts` adds it in place (`addBackupKeyIfMissing`), and a backup
 *   with such a keyring fails with a message naming that script.
 * - `auditCheckpointKey` is the HMAC-SHA256 key that signs checkpoints of the audit chain (lib/audit). Keyring
 *   files written before the audit chain existed lack it and are upgraded in place by
 *   `scripts/init-keyring.ts`, exactly like the pepper; the provider refuses such a file with that command.
 * - Every key is standard, padded, canonical base64 of exactly 32 random bytes.
 * - Unknown fields are rejected (a typo such as "verisons" must not silently drop keys), and the same key may
 *   not appear twice (a copy-paste would quietly defeat the separation between purposes).
 *
 * The file must be mode 0600 (the provider refuses anything readable by group or others) and is written
 * atomically by `createKeyringFile`, which never overwrites an existing keyring: replacing keys would make
 * every existing ciphertext undecryptable.
 */
import { randomBytes } from "node:crypto";
import { link, lstat, mkdir, open, unlink } from "node:fs/promises";
import path from "node:path";
import { z } from "zod";
// Relative imports, not the "@/" alias: tsx only maps "@/" when started from the repository root, and the
// initialiser must work whatever directory it is started from.
import { BankError } from "../errors";
import {
  blindIndexPurposes,
  dataKeyPurposes,
  keyLengthInBytes,
  type BlindIndexPurpose,
  type DataKeyPurpose,
} from "./key-provider";

export const keyringFormatVersion = 1;

/** The largest version number we accept; generous, and far below any integer-precision concern. */
const maximumKeyVersion = 999_999_999;

/**
 * A base64 key must round-trip exactly: Node's base64 decoder silently skips invalid characters and ignores
 * trailing bits, so without the round-trip check a damaged key could decode to different bytes than intended.
 */
const encodedKeySchema = z.string().refine((encoded) => {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(encoded)) return false;
  const decoded = Buffer.from(encoded, "base64");
  return decoded.length === keyLengthInBytes && decoded.toString("base64") === encoded;
}, `must be exactly ${keyLengthInBytes} bytes encoded as canonical base64`);

const keyVersionLabelSchema = z.string().regex(/^[1-9][0-9]{0,8}$/, "must be a positive integer version label");

const dataKeyRingSchema = z
  .strictObject({
    current: z.number().int().min(1).max(maximumKeyVersion),
    versions: z.record(keyVersionLabelSchema, encodedKeySchema),
  })
  .superRefine((ring, context) => {
    if (ring.versions[String(ring.current)] === undefined) {
      context.addIssue({ code: "custom", path: ["current"], message: "the current version has no key in versions" });
    }
  });

// The purposes are spelled out (instead of being built from the purpose lists) so that zod infers precise
// types; the `satisfies` clauses below make the compiler flag any drift from the lists in key-provider.ts.
const dataKeysSchema = z.strictObject({
  pii: dataKeyRingSchema,
  mfa: dataKeyRingSchema,
  memo: dataKeyRingSchema,
} satisfies Record<DataKeyPurpose, typeof dataKeyRingSchema>);

/**
 * A blind-index key ring, accepting the single-key shape of older keyrings as version 1 (see the format notes
 * above). The conversion happens before validation, so both shapes go through exactly the same checks and
 * the rest of the code only ever sees the versioned shape.
 */
const blindIndexKeyRingSchema = z.preprocess(
  (value) => (typeof value === "string" ? { current: 1, versions: { "1": value } } : value),
  dataKeyRingSchema,
);

const blindIndexKeysSchema = z.strictObject({
  email: blindIndexKeyRingSchema,
} satisfies Record<BlindIndexPurpose, typeof blindIndexKeyRingSchema>);


const keyringFieldsBeforePepper = {
  format: z.literal(keyringFormatVersion),
  dataKeys: dataKeysSchema,
  blindIndexKeys: blindIndexKeysSchema,
  backupKey: encodedKeySchema.optional(),
};

function refuseRepeatedKeys(keyring: KeysOfKeyring, context: z.RefinementCtx): void {
  const seen = new Set<string>();
  for (const encoded of allEncodedKeys(keyring)) {
    if (seen.has(encoded)) {
      // The message must not quote the key: validation errors end up in logs.
      context.addIssue({ code: "custom", path: [], message: "the same key appears more than once in the keyring" });
      return;
    }
    seen.add(encoded);
  }
}

export const keyringFileSchema = z
  .strictObject({ ...keyringFieldsBeforePepper, passwordPepper: encodedKeySchema, auditCheckpointKey: encodedKeySchema })
  .superRefine(refuseRepeatedKeys);

/**
 * A keyring file as written after the pepper but before the audit checkpoint key existed. Only the upgrade in
 * keyring-upgrade.ts reads files with this schema; the provider never accepts one.
 */
export const keyringFileWithoutAuditCheckpointKeySchema = z
  .strictObject({ ...keyringFieldsBeforePepper, passwordPepper: encodedKeySchema })
  .superRefine(refuseRepeatedKeys);

/** Whether `json` is an object with no audit checkpoint key field at all. */
export function lacksAuditCheckpointKey(json: unknown): boolean {
  return typeof json === "object" && json !== null && !Array.isArray(json) && !Object.hasOwn(json, "auditCheckpointKey");
}

/**
 * A keyring file as written before the password pepper existed. Only the upgrade in keyring-upgrade.ts reads
 * files with this schema; the provider never accepts one.
 */
export const keyringFileWithoutPepperSchema = z.strictObject(keyringFieldsBeforePepper).superRefine(refuseRepeatedKeys);

export type KeyringFile = z.infer<typeof keyringFileSchema>;
export type KeyringFileWithoutPepper = z.infer<typeof keyringFileWithoutPepperSchema>;
export type DataKeyRing = KeyringFile["dataKeys"][DataKeyPurpose];

type KeysOfKeyring = Pick<KeyringFile, "dataKeys" | "blindIndexKeys" | "backupKey"> & {
  readonly passwordPepper?: string;
  readonly auditCheckpointKey?: string;
};

function allEncodedKeys(keyring: KeysOfKeyring): string[] {
  const encodedKeys: string[] = [];
  for (const purpose of dataKeyPurposes) encodedKeys.push(...Object.values(keyring.dataKeys[purpose].versions));
  for (const purpose of blindIndexPurposes) encodedKeys.push(...Object.values(keyring.blindIndexKeys[purpose].versions));
  // The pepper is compared with every other key too: a pepper equal to the email blind-index key, for example,
  // would make a password's pepper HMAC and an email's blind index the same function.
  if (keyring.passwordPepper !== undefined) encodedKeys.push(keyring.passwordPepper);
  // The backup key too: a backup key equal to a data key would let one leaked key open both.
  if (keyring.backupKey !== undefined) encodedKeys.push(keyring.backupKey);
  // The audit checkpoint key likewise: equal to another HMAC key, a checkpoint signature would be computable
  // by whatever code holds that other key.
  if (keyring.auditCheckpointKey !== undefined) encodedKeys.push(keyring.auditCheckpointKey);
  return encodedKeys;
}

/**
 * Parses and validates the text of a keyring file. Every error message is built by us from field paths and
 * zod's generic messages, never from the input, and no parse error is attached as a cause: V8's JSON syntax
 * errors quote a slice of the source text, which here would be key material going straight into the logs.
 */
export function parseKeyringText(text: string, source: string): KeyringFile {
  const json = parseKeyringJson(text, source);
  if (lacksPasswordPepper(json)) {
    // Named apart from the other problems because it is the expected state of every keyring made before the
    // pepper existed, and the fix is one command rather than an edit of the file.
    throw new BankError("internal", {
      internalMessage:
        `keyring ${source} has no password pepper (it was created before passwords were peppered); ` +
        `add one, keeping every other key, with: npx tsx scripts/init-keyring.ts ${source}`,
    });
  }
  if (lacksAuditCheckpointKey(json)) {
    throw new BankError("internal", {
      internalMessage:
        `keyring ${source} has no audit checkpoint key (it was created before the audit chain existed); ` +
        `add one, keeping every other key, with: npx tsx scripts/init-keyring.ts ${source}`,
    });
  }
  return validateKeyring(keyringFileSchema, json, source);
}

/** JSON.parse without letting V8's error message, which quotes the input, anywhere near the logs. */
export function parseKeyringJson(text: string, source: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new BankError("internal", { internalMessage: `keyring ${source} is not valid JSON` });
  }
}

/** Whether `json` is an object with no pepper field at all (as opposed to a pepper that is malformed). */
export function lacksPasswordPepper(json: unknown): boolean {
  return typeof json === "object" && json !== null && !Array.isArray(json) && !Object.hasOwn(json, "passwordPepper");
}

export function validateKeyring<Schema extends z.ZodType>(schema: Schema, json: unknown, source: string): z.infer<Schema> {
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join(".") || "(root)"}: ${issue.message}`);
    throw new BankError("internal", { internalMessage: `keyring ${source} is invalid: ${problems.join("; ")}` });
  }
  return parsed.data;
}

export function freshEncodedKey(): string {
  // randomBytes draws from the operating system's CSPRNG; it throws rather than returning weak bytes.
  return randomBytes(keyLengthInBytes).toString("base64");
}

/** A new keyring with one fresh random key (version 1) for every purpose. */
export function generateKeyring(): KeyringFile {
  const keyring: KeyringFile = {
    format: keyringFormatVersion,
    dataKeys: {
      pii: { current: 1, versions: { "1": freshEncodedKey() } },
      mfa: { current: 1, versions: { "1": freshEncodedKey() } },
      memo: { current: 1, versions: { "1": freshEncodedKey() } },
    },
    blindIndexKeys: { email: { current: 1, versions: { "1": freshEncodedKey() } } },
    passwordPepper: freshEncodedKey(),
    backupKey: freshEncodedKey(),
    auditCheckpointKey: freshEncodedKey(),
  };
  // Validating our own output catches a drift between this generator and the schema at creation time.
  return keyringFileSchema.parse(keyring);
}

/**
 * Returns a copy of the keyring in which `purpose` has a new random key that becomes current. Older versions
 * are kept, because ciphertexts written with them must keep decrypting until they are re-encrypted.
 */
export function addDataKeyVersion(keyring: KeyringFile, purpose: DataKeyPurpose): KeyringFile {
  const ring = keyring.dataKeys[purpose];
  const nextVersion = Math.max(...Object.keys(ring.versions).map(Number)) + 1;
  const rotated: KeyringFile = {
    ...keyring,
    dataKeys: {
      ...keyring.dataKeys,
      [purpose]: { current: nextVersion, versions: { ...ring.versions, [String(nextVersion)]: freshEncodedKey() } },
    },
  };
  return keyringFileSchema.parse(rotated);
}

/**
 * Returns a copy of the keyring in which the blind-index purpose has a new random key that becomes current.
 * Older versions are kept: stored indexes computed with them must keep matching until `keys:reindex` has
 * recomputed them, and look-ups try every version meanwhile.
 */
export function addBlindIndexKeyVersion(keyring: KeyringFile, purpose: BlindIndexPurpose): KeyringFile {
  const ring = keyring.blindIndexKeys[purpose];
  const nextVersion = Math.max(...Object.keys(ring.versions).map(Number)) + 1;
  const rotated: KeyringFile = {
    ...keyring,
    blindIndexKeys: {
      ...keyring.blindIndexKeys,
      [purpose]: { current: nextVersion, versions: { ...ring.versions, [String(nextVersion)]: freshEncodedKey() } },
    },
  };
  return keyringFileSchema.parse(rotated);
}

export function serialiseKeyring(keyring: KeyringFile): string {
  return `${JSON.stringify(keyringFileSchema.parse(keyring), null, 2)}\n`;
}

export type KeyringCreationResult = "created" | "exists";

/**
 * Writes `keyring` (by default a freshly generated one) to `filePath` with mode 0600, creating missing parent
 * directories with mode 0700. Never overwrites: if anything already exists at the path it returns "exists"
 * and leaves it untouched (or throws if it is not a regular file, since that is a misconfiguration that would
 * only fail later, less clearly).
 *
 * The file is written to a temporary name in the same directory, flushed to disk and then hard-linked to the
 * final name. `link` fails if the target exists, so the no-overwrite check and the publication are one
 * atomic step (no race with a concurrent start), and a crash half-way can never leave a truncated keyring at
 * the final path, which a later start would otherwise keep as "exists".
 */
export async function createKeyringFile(
  filePath: string,
  keyring: KeyringFile = generateKeyring(),
): Promise<KeyringCreationResult> {
  const targetPath = path.resolve(filePath);
  const directory = path.dirname(targetPath);
  // `mode` applies to every directory that `recursive` creates; existing directories are left as they are.
  await mkdir(directory, { recursive: true, mode: 0o700 });

  if (await existingKeyringAt(targetPath)) return "exists";

  const contents = serialiseKeyring(keyring);
  const temporaryPath = path.join(directory, `.${path.basename(targetPath)}.${randomBytes(8).toString("hex")}.tmp`);
  // "wx" refuses to follow or reuse anything already at the temporary name.
  const handle = await open(temporaryPath, "wx", 0o600);
  try {
    try {
      // The umask can only remove permission bits, but chmod makes the mode exactly 0600 regardless.
      await handle.chmod(0o600);
      await handle.writeFile(contents, "utf8");
      await handle.sync();
    } finally {
      await handle.close();
    }
    try {
      await link(temporaryPath, targetPath);
    } catch (error) {
      // Another process created the keyring between our check and our link: its keyring wins.
      if (isErrorWithCode(error, "EEXIST")) return "exists";
      throw error;
    }
    await syncDirectory(directory);
    return "created";
  } finally {
    await unlink(temporaryPath);
  }
}

async function existingKeyringAt(targetPath: string): Promise<boolean> {
  try {
    const status = await lstat(targetPath);
    // A symbolic link is accepted as an existing keyring (deployments may link a mounted file into place);
    // the provider checks the file it finally opens.
    if (!status.isFile() && !status.isSymbolicLink()) {
      throw new BankError("internal", { internalMessage: `keyring path ${targetPath} exists but is not a file` });
    }
    return true;
  } catch (error) {
    if (isErrorWithCode(error, "ENOENT")) return false;
    throw error;
  }
}

/** Flushes the directory entry, so that the new keyring's name survives a power loss right after creation. */
export async function syncDirectory(directory: string): Promise<void> {
  const handle = await open(directory, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

export function isErrorWithCode(error: unknown, code: string): boolean {
  return error instanceof Error && "code" in error && error.code === code;
}
