import "server-only";
/**
 * A key provider backed by a JSON keyring file on local disk (format documented in `keyring-format.ts`).
 * It is meant for development and the local demo; production configuration requires the PKCS#11 provider,
 * where keys never sit in a plain file (see `parseEnvironment` in lib/env-schema.ts).
 */
import { createCipheriv, createDecipheriv, createHmac, createSecretKey, randomBytes, type KeyObject } from "node:crypto";
import { open, readFile, realpath, rename, rm, type FileHandle } from "node:fs/promises";
import path from "node:path";
import { BankError } from "@/lib/errors";
import {
  blindIndexPurposes,
  dataKeyPurposes,
  isBlindIndexPurpose,
  isDataKeyPurpose,
  type BlindIndexKeyVersions,
  type BlindIndexPurpose,
  type DataKeyPurpose,
  type KeyProvider,
  type VersionedDataKey,
  type WrappedBackupKey,
} from "@/lib/crypto/key-provider";
import {
  addBlindIndexKeyVersion,
  addDataKeyVersion,
  parseKeyringText,
  serialiseKeyring,
  type DataKeyRing,
  type KeyringFile,
} from "@/lib/crypto/keyring-format";
import { withKeyringLock } from "@/lib/crypto/keyring-lock";

interface LoadedDataKeyRing {
  readonly current: VersionedDataKey;
  readonly versions: ReadonlyMap<number, KeyObject>;
}

interface LoadedKeyring {
  readonly dataKeys: ReadonlyMap<DataKeyPurpose, LoadedDataKeyRing>;
  /** Versioned exactly like data keys (older keyrings' single key is read as version 1). */
  readonly blindIndexKeys: ReadonlyMap<BlindIndexPurpose, LoadedDataKeyRing>;
  readonly passwordPepper: KeyObject;
  /** Absent in keyrings written before encrypted backups; scripts/init-keyring.ts adds it. */
  readonly backupKey: KeyObject | undefined;
  readonly auditCheckpointKey: KeyObject;
}

/** Any of these permission bits would let a user other than the file's owner read or change the keys. */
const groupAndOtherPermissionBits = 0o077;

/** How often a running process re-reads which version is current, unless told otherwise (KEY_REFRESH_SECONDS). */
const defaultCurrentVersionRefreshSeconds = 30;

export interface LocalKeyringOptions {
  /**
   * At most this long after a load, a request for the current key reads the file again, so that an app
   * instance starts writing with a version that `keys:rotate` added in another process. Fractions are allowed
   * (tests use a fraction of a second); the configuration (KEY_REFRESH_SECONDS) takes whole seconds.
   */
  readonly currentVersionRefreshSeconds?: number;
  /** Milliseconds since the epoch; tests may substitute a clock. */
  readonly now?: () => number;
}

interface CachedLoad {
  readonly keyring: Promise<LoadedKeyring>;
  readonly startedAtMilliseconds: number;
}

export function createLocalKeyring(filePath: string, options: LocalKeyringOptions = {}): KeyProvider {
  const refreshMilliseconds = (options.currentVersionRefreshSeconds ?? defaultCurrentVersionRefreshSeconds) * 1000;
  if (!Number.isFinite(refreshMilliseconds) || refreshMilliseconds < 0) {
    throw new BankError("internal", { internalMessage: "the keyring refresh interval must be a non-negative number" });
  }
  const now = options.now ?? Date.now;

  // The promise (not its result) is cached so that concurrent requests share a single read. A failed load is
  // not cached: every call fails until the operator fixes the file, and then the next call succeeds without
  // a restart. Nothing ever falls back to a default key.
  let cached: CachedLoad | undefined;

  function load(): Promise<LoadedKeyring> {
    const entry: CachedLoad = { keyring: loadKeyring(filePath), startedAtMilliseconds: now() };
    cached = entry;
    entry.keyring.catch(() => {
      if (cached === entry) cached = undefined;
    });
    return entry.keyring;
  }

  function loaded(): Promise<LoadedKeyring> {
    return cached?.keyring ?? load();
  }

  /**
   * Which version is current can change under a running process (another process ran `keys:rotate`), so the
   * answer is re-read once it is older than the refresh interval. A rotation therefore reaches every running
   * instance within that interval, which is why `keys:reencrypt` waits that long after a rotation before it
   * starts: otherwise an instance could still be writing the old version after the last batch.
   * Requests that arrive while a re-read is in flight share it (the new load replaces `cached` at once).
   */
  function loadedWithRecentCurrentVersion(): Promise<LoadedKeyring> {
    if (cached === undefined || now() - cached.startedAtMilliseconds >= refreshMilliseconds) return load();
    return cached.keyring;
  }

  return {
    async currentDataKey(purpose) {
      return dataKeyRing(await loadedWithRecentCurrentVersion(), purpose, filePath).current;
    },

    async dataKey(purpose, version) {
      const loadBeforeLookup = cached;
      const knownKey = dataKeyRing(await loaded(), purpose, filePath).versions.get(version);
      if (knownKey !== undefined) return knownKey;
      // A ciphertext written by an instance that has already seen a rotation names a version this process
      // may not have loaded yet: read the file once more before calling the version unknown. If another
      // request has already started a newer load since this one began, that load is shared instead of
      // starting a second one. A forged version in a tampered value costs one file read and then fails.
      const reloaded = cached !== undefined && cached !== loadBeforeLookup ? cached.keyring : load();
      const key = dataKeyRing(await reloaded, purpose, filePath).versions.get(version);
      if (key === undefined) {
        throw new BankError("internal", {
          internalMessage: `keyring ${filePath} has no ${purpose} data key version ${String(version)}`,
        });
      }
      return key;
    },

    async blindIndexKey(purpose) {
      // The recently re-read keyring, as for data keys: a rotation made by another process must reach the
      // indexes this instance writes within the refresh interval, which is what `keys:reindex` waits for.
      return blindIndexKeyRing(await loadedWithRecentCurrentVersion(), purpose, filePath).current.key;
    },

    async blindIndexKeys(purpose, options) {
      // A re-read starts a new load even if one is in flight: that one may have begun before the caller's
      // lock was granted and so miss a version added meanwhile.
      const keyring = options?.reread === true ? await load() : await loadedWithRecentCurrentVersion();
      const ring = blindIndexKeyRing(keyring, purpose, filePath);
      const older = [...ring.versions]
        .filter(([version]) => version !== ring.current.version)
        .sort(([first], [second]) => second - first)
        .map(([version, key]) => ({ version, key }));
      const versions: BlindIndexKeyVersions = [ring.current, ...older];
      return versions;
    },

    async rotateBlindIndexKey(purpose) {
      if (!isBlindIndexPurpose(purpose)) {
        throw new BankError("internal", { internalMessage: `unknown blind-index purpose ${String(purpose)}` });
      }
      const version = await rotateKeyringFile(filePath, {
        add: (keyring) => addBlindIndexKeyVersion(keyring, purpose),
        currentVersion: (keyring) => keyring.blindIndexKeys[purpose].current,
      });
      // As for data keys: this process indexes with the new version at once, others within the interval.
      await load();
      return version;
    },

    async pepperPassword(password) {
      // Checked at run time because a caller outside the type system could pass anything, and HMAC over
      // `String(undefined)` would quietly pepper the word "undefined".
      if (typeof password !== "string") throw new TypeError("the password to pepper must be a string");
      const { passwordPepper } = await loaded();
      // The password is encoded exactly as @node-rs/argon2 encoded it when it hashed passwords itself (UTF-8,
      // with a lone surrogate replaced by U+FFFD), so that peppering changes what argon2 sees and nothing about
      // which typed passwords are equal.
      return createHmac("sha256", passwordPepper).update(password, "utf8").digest();
    },

    async rotateDataKey(purpose) {
      if (!isDataKeyPurpose(purpose)) {
        throw new BankError("internal", { internalMessage: `unknown data-key purpose ${String(purpose)}` });
      }
      const version = await rotateKeyringFile(filePath, {
        add: (keyring) => addDataKeyVersion(keyring, purpose),
        currentVersion: (keyring) => keyring.dataKeys[purpose].current,
      });
      // This process writes with the new version from its very next encryption; other processes follow
      // within their refresh interval.
      await load();
      return version;
    },

    async wrapBackupKey(fileKey) {
      const backupKey = loadedBackupKey(await loaded(), filePath);
      return wrapWithKeyringBackupKey(backupKey, fileKey);
    },

    async unwrapBackupKey(wrapped) {
      const backupKey = loadedBackupKey(await loaded(), filePath);
      return unwrapWithKeyringBackupKey(backupKey, wrapped, filePath);
    },

    async signAuditCheckpoint(message) {
      if (!Buffer.isBuffer(message)) throw new TypeError("the audit checkpoint message must be a Buffer");
      const { auditCheckpointKey } = await loaded();
      return createHmac("sha256", auditCheckpointKey).update(message).digest();
    },
  };
}

/*
 * Backup file keys under the local keyring. The keyring's dedicated backup key (never a data key, so that the
 * backups and the fields stay separable) wraps each backup's random file key with AES-256-GCM. The header of a
 * backup names the key by a fingerprint (an HMAC of a fixed label under the key, which reveals nothing about
 * it), so that a restore with another keyring says so instead of reporting a failed decryption, and the
 * fingerprint is also additional data of the wrap, so that a label edited in the header fails the tag.
 */
const backupWrapPrefix = "aes-256-gcm";
const backupWrapAdditionalDataLabel = "bank/backup-key-wrap/v1";
const backupWrapIvLengthInBytes = 12;
const backupWrapTagLengthInBytes = 16;

function loadedBackupKey(keyring: LoadedKeyring, filePath: string): KeyObject {
  if (keyring.backupKey === undefined) {
    throw new BankError("unavailable", {
      internalMessage:
        `keyring ${filePath} has no backup key (it was created before encrypted backups); add one, keeping ` +
        `every other key, with: npx tsx scripts/init-keyring.ts ${filePath}`,
    });
  }
  return keyring.backupKey;
}

function backupKeyLabel(backupKey: KeyObject): string {
  const fingerprint = createHmac("sha256", backupKey).update("bank/backup-key-fingerprint/v1").digest("hex").slice(0, 16);
  return `keyring-backup-key:${fingerprint}`;
}

function wrapWithKeyringBackupKey(backupKey: KeyObject, fileKey: Buffer): WrappedBackupKey {
  const keyLabel = backupKeyLabel(backupKey);
  const iv = randomBytes(backupWrapIvLengthInBytes);
  const cipher = createCipheriv("aes-256-gcm", backupKey, iv);
  cipher.setAAD(Buffer.from(JSON.stringify([backupWrapAdditionalDataLabel, keyLabel]), "utf8"));
  const encrypted = Buffer.concat([cipher.update(fileKey), cipher.final(), cipher.getAuthTag()]);
  return {
    provider: "local",
    keyLabel,
    wrappedKey: [backupWrapPrefix, iv.toString("base64url"), encrypted.toString("base64url")].join(":"),
  };
}

function unwrapWithKeyringBackupKey(backupKey: KeyObject, wrapped: WrappedBackupKey, filePath: string): Buffer {
  const keyLabel = backupKeyLabel(backupKey);
  if (wrapped.provider !== "local" || wrapped.keyLabel !== keyLabel) {
    throw new BankError("invalid_input", {
      internalMessage:
        `the backup's file key was wrapped by ${wrapped.provider} key "${wrapped.keyLabel}", but the configured ` +
        `keyring ${filePath} holds "${keyLabel}": restore with the keyring (or token) the backup was made with`,
    });
  }
  const parts = wrapped.wrappedKey.split(":");
  const iv = Buffer.from(parts[1] ?? "", "base64url");
  const encrypted = Buffer.from(parts[2] ?? "", "base64url");
  if (parts.length !== 3 || parts[0] !== backupWrapPrefix || iv.length !== backupWrapIvLengthInBytes || encrypted.length <= backupWrapTagLengthInBytes) {
    throw new BankError("invalid_input", { internalMessage: "the backup's wrapped file key has an unknown format" });
  }
  const decipher = createDecipheriv("aes-256-gcm", backupKey, iv);
  decipher.setAAD(Buffer.from(JSON.stringify([backupWrapAdditionalDataLabel, keyLabel]), "utf8"));
  decipher.setAuthTag(encrypted.subarray(encrypted.length - backupWrapTagLengthInBytes));
  try {
    return Buffer.concat([decipher.update(encrypted.subarray(0, encrypted.length - backupWrapTagLengthInBytes)), decipher.final()]);
  } catch (cause) {
    throw new BankError("invalid_input", { internalMessage: "the backup's wrapped file key does not unwrap (altered?)", cause });
  }
}

function dataKeyRing(keyring: LoadedKeyring, purpose: DataKeyPurpose, filePath: string): LoadedDataKeyRing {
  // The purpose is checked at run time too, because callers outside the type system (or a cast) could pass
  // anything, and a lookup miss must surface as an error rather than as `undefined` used as a key.
  const ring = isDataKeyPurpose(purpose) ? keyring.dataKeys.get(purpose) : undefined;
  if (ring === undefined) {
    throw new BankError("internal", {
      internalMessage: `keyring ${filePath} has no data keys for purpose ${String(purpose)}`,
    });
  }
  return ring;
}

function blindIndexKeyRing(keyring: LoadedKeyring, purpose: BlindIndexPurpose, filePath: string): LoadedDataKeyRing {
  const ring = isBlindIndexPurpose(purpose) ? keyring.blindIndexKeys.get(purpose) : undefined;
  if (ring === undefined) {
    throw new BankError("internal", {
      internalMessage: `keyring ${filePath} has no blind-index key for purpose ${String(purpose)}`,
    });
  }
  return ring;
}

async function loadKeyring(filePath: string): Promise<LoadedKeyring> {
  const { text } = await readProtectedFile(filePath);
  return toKeyObjects(parseKeyringText(text, filePath));
}

/** One kind of rotation: how to add the new version, and where the new current version is read back. */
interface KeyringRotation {
  add(keyring: KeyringFile): KeyringFile;
  currentVersion(keyring: KeyringFile): number;
}

/**
 * Adds a fresh version of one key (a data key or a blind-index key) to the keyring file and makes it current;
 * returns its number.
 *
 * - A lock file next to the keyring makes concurrent rotations (two operators, or `keys:rotate all` racing a
 *   second run) take turns: each reads the file only after the previous one has replaced it, so neither can
 *   write a keyring that lacks the other's new version.
 * - The new keyring is checked to hold every key of the old one unchanged before anything is written,
 *   because a lost or altered key would make every value encrypted with it unreadable for good.
 * - The new text is written to a temporary file in the same directory, flushed, given the old file's
 *   permission bits and renamed over the old one: rename is atomic, so a reader (a running instance
 *   refreshing its keys) sees either the whole old keyring or the whole new one, never a partial file, and a
 *   crash leaves the old keyring in place. The directory is flushed too, so the rename survives a power loss.
 * - A symbolic link at the configured path is followed and the file it points to is replaced, so that the
 *   link keeps working for the app.
 */
async function rotateKeyringFile(filePath: string, rotation: KeyringRotation): Promise<number> {
  let targetPath: string;
  try {
    targetPath = await realpath(filePath);
  } catch (cause) {
    throw new BankError("internal", { internalMessage: `keyring ${filePath} cannot be found for rotation`, cause });
  }
  return withKeyringLock(targetPath, async () => {
    const { text, permissionBits, ownerUserId, ownerGroupId } = await readProtectedFile(targetPath);
    const before = parseKeyringText(text, targetPath);
    const after = rotation.add(before);
    assertKeepsEveryKey(before, after);
    const contents = serialiseKeyring(after);

    const directory = path.dirname(targetPath);
    const temporaryPath = path.join(directory, `.${path.basename(targetPath)}.${randomBytes(8).toString("hex")}.tmp`);
    // "wx" refuses to follow or reuse anything already at the temporary name; 0600 until chmod below.
    const handle = await open(temporaryPath, "wx", 0o600);
    let renamed = false;
    try {
      try {
        // The replacement must belong to whoever owned the old file: a keyring rotated by root and left owned
        // by root with mode 0600 would lock the app (running as its own user) out of its keys. Only root can
        // give a file away, so anyone else must run the rotation as the keyring's owner.
        if (ownerUserId !== process.getuid?.() || ownerGroupId !== process.getgid?.()) {
          try {
            await handle.chown(ownerUserId, ownerGroupId);
          } catch (cause) {
            throw new BankError("internal", {
              internalMessage: `the keyring ${targetPath} belongs to user ${String(ownerUserId)}; rotate it as that user`,
              cause,
            });
          }
        }
        await handle.chmod(permissionBits);
        await handle.writeFile(contents, "utf8");
        await handle.sync();
      } finally {
        await handle.close();
      }
      // Reading back what was written proves the file on disk is a keyring with the new version before it
      // replaces the old one.
      const written = parseKeyringText(await readFile(temporaryPath, "utf8"), temporaryPath);
      assertKeepsEveryKey(before, written);
      if (rotation.currentVersion(written) !== rotation.currentVersion(after)) {
        throw new BankError("internal", { internalMessage: `the rotated keyring did not read back as written; nothing was replaced` });
      }
      await rename(temporaryPath, targetPath);
      renamed = true;
      await syncDirectory(directory);
    } finally {
      if (!renamed) await rm(temporaryPath, { force: true });
    }
    return rotation.currentVersion(after);
  });
}

/** Throws unless every data key, blind-index key and the pepper of `before` is present, with the same bytes, in `after`. */
function assertKeepsEveryKey(before: KeyringFile, after: KeyringFile): void {
  for (const purpose of dataKeyPurposes) {
    for (const [label, encoded] of Object.entries(before.dataKeys[purpose].versions)) {
      if (after.dataKeys[purpose].versions[label] !== encoded) {
        throw new BankError("internal", {
          internalMessage: `rotation would lose or change ${purpose} data key version ${label}; nothing was written`,
        });
      }
    }
  }
  // Losing a blind-index version would make every stored index computed with it unfindable.
  for (const purpose of blindIndexPurposes) {
    for (const [label, encoded] of Object.entries(before.blindIndexKeys[purpose].versions)) {
      if (after.blindIndexKeys[purpose].versions[label] !== encoded) {
        throw new BankError("internal", {
          internalMessage: `rotation would lose or change ${purpose} blind-index key version ${label}; nothing was written`,
        });
      }
    }
  }
  // Losing the pepper would make every stored password hash unverifiable.
  if (after.passwordPepper !== before.passwordPepper) {
    throw new BankError("internal", { internalMessage: "rotation would change the password pepper; nothing was written" });
  }
  // Losing the backup key would make every database backup made with it unreadable.
  if (after.backupKey !== before.backupKey) {
    throw new BankError("internal", { internalMessage: "rotation would change the backup key; nothing was written" });
  }
  // Losing the audit checkpoint key would make every stored checkpoint unverifiable.
  if (after.auditCheckpointKey !== before.auditCheckpointKey) {
    throw new BankError("internal", { internalMessage: "rotation would change the audit checkpoint key; nothing was written" });
  }
}

async function syncDirectory(directory: string): Promise<void> {
  const handle = await open(directory, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Opens the file first and then checks the permissions of the open descriptor (fstat), rather than calling
 * stat on the path and opening afterwards: that way the file whose mode we check is exactly the file we
 * read, with no window for it to be swapped in between. Symbolic links are followed on purpose, since the
 * check applies to the file they resolve to.
 */
interface ProtectedFile {
  readonly text: string;
  readonly permissionBits: number;
  readonly ownerUserId: number;
  readonly ownerGroupId: number;
}

async function readProtectedFile(filePath: string): Promise<ProtectedFile> {
  let handle: FileHandle;
  try {
    handle = await open(filePath, "r");
  } catch (cause) {
    throw new BankError("internal", {
      internalMessage: `keyring ${filePath} cannot be opened (run scripts/init-keyring.ts to create one)`,
      cause,
    });
  }
  try {
    const status = await handle.stat();
    if (!status.isFile()) {
      throw new BankError("internal", { internalMessage: `keyring ${filePath} is not a regular file` });
    }
    const permissionBits = status.mode & 0o777;
    if ((permissionBits & groupAndOtherPermissionBits) !== 0) {
      throw new BankError("internal", {
        internalMessage:
          `keyring ${filePath} is accessible by group or others (mode 0${permissionBits.toString(8)}); ` +
          `refusing to use it. Restrict it with: chmod 600 ${filePath}`,
      });
    }
    return {
      text: await handle.readFile("utf8"),
      permissionBits,
      ownerUserId: status.uid,
      ownerGroupId: status.gid,
    };
  } finally {
    await handle.close();
  }
}

/**
 * Turns the validated base64 strings into KeyObjects. The temporary Buffers are zeroed once the KeyObject
 * holds its own copy, which shortens how long loose key bytes sit on the JS heap. The file text and the
 * parsed strings cannot be wiped (JS strings are immutable) and are simply dropped for the garbage collector;
 * that residual exposure is one reason the local keyring is not allowed in production.
 */
function toKeyObjects(keyring: KeyringFile): LoadedKeyring {
  const dataKeys = new Map<DataKeyPurpose, LoadedDataKeyRing>();
  for (const purpose of dataKeyPurposes) dataKeys.set(purpose, toLoadedRing(keyring.dataKeys[purpose], purpose));
  const blindIndexKeys = new Map<BlindIndexPurpose, LoadedDataKeyRing>();
  for (const purpose of blindIndexPurposes) {
    blindIndexKeys.set(purpose, toLoadedRing(keyring.blindIndexKeys[purpose], `blind-index:${purpose}`));
  }
  return {
    dataKeys,
    blindIndexKeys,
    passwordPepper: keyObjectFromBase64(keyring.passwordPepper),
    backupKey: keyring.backupKey === undefined ? undefined : keyObjectFromBase64(keyring.backupKey),
    auditCheckpointKey: keyObjectFromBase64(keyring.auditCheckpointKey),
  };
}

function toLoadedRing(ring: DataKeyRing, description: string): LoadedDataKeyRing {
  const versions = new Map<number, KeyObject>();
  for (const [label, encoded] of Object.entries(ring.versions)) {
    versions.set(Number(label), keyObjectFromBase64(encoded));
  }
  const currentKey = versions.get(ring.current);
  // The schema already guarantees this; the check keeps a future schema change from failing silently.
  if (currentKey === undefined) {
    throw new BankError("internal", { internalMessage: `keyring has no key for the current ${description} version` });
  }
  return { current: { version: ring.current, key: currentKey }, versions };
}

function keyObjectFromBase64(encoded: string): KeyObject {
  const bytes = Buffer.from(encoded, "base64");
  try {
    return createSecretKey(bytes);
  } finally {
    bytes.fill(0);
  }
}
