import "server-only";
/**
 * A key provider backed by a JSON keyring file on local disk (format documented in `keyring-format.ts`).
 * It is meant for development and the local demo; production configuration requires the PKCS#11 provider,
 * where keys never sit in a plain file (see `parseEnvironment` in lib/env-schema.ts).
 */
import { createHmac, createSecretKey, randomBytes, type KeyObject } from "node:crypto";
import { open, readFile, realpath, rename, rm, type FileHandle } from "node:fs/promises";
import path from "node:path";
import { BankError } from "@/lib/errors";
import {
  blindIndexPurposes,
  dataKeyPurposes,
  isBlindIndexPurpose,
  isDataKeyPurpose,
  type BlindIndexPurpose,
  type DataKeyPurpose,
  type KeyProvider,
  type VersionedDataKey,
} from "@/lib/crypto/key-provider";
import {
  addDataKeyVersion,
  parseKeyringText,
  serialiseKeyring,
  type KeyringFile,
} from "@/lib/crypto/keyring-format";
import { withKeyringLock } from "@/lib/crypto/keyring-lock";

interface LoadedDataKeyRing {
  readonly current: VersionedDataKey;
  readonly versions: ReadonlyMap<number, KeyObject>;
}

interface LoadedKeyring {
  readonly dataKeys: ReadonlyMap<DataKeyPurpose, LoadedDataKeyRing>;
  readonly blindIndexKeys: ReadonlyMap<BlindIndexPurpose, KeyObject>;
  readonly passwordPepper: KeyObject;
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
      const keyring = await loaded();
      const key = isBlindIndexPurpose(purpose) ? keyring.blindIndexKeys.get(purpose) : undefined;
      if (key === undefined) {
        throw new BankError("internal", {
          internalMessage: `keyring ${filePath} has no blind-index key for purpose ${String(purpose)}`,
        });
      }
      return key;
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
      const version = await rotateKeyringFile(filePath, purpose);
      // This process writes with the new version from its very next encryption; other processes follow
      // within their refresh interval.
      await load();
      return version;
    },

    async signAuditCheckpoint(message) {
      if (!Buffer.isBuffer(message)) throw new TypeError("the audit checkpoint message must be a Buffer");
      const { auditCheckpointKey } = await loaded();
      return createHmac("sha256", auditCheckpointKey).update(message).digest();
    },
  };
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

async function loadKeyring(filePath: string): Promise<LoadedKeyring> {
  const { text } = await readProtectedFile(filePath);
  return toKeyObjects(parseKeyringText(text, filePath));
}

/**
 * Adds a fresh version to `purpose` in the keyring file and makes it current; returns its number.
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
async function rotateKeyringFile(filePath: string, purpose: DataKeyPurpose): Promise<number> {
  let targetPath: string;
  try {
    targetPath = await realpath(filePath);
  } catch (cause) {
    throw new BankError("internal", { internalMessage: `keyring ${filePath} cannot be found for rotation`, cause });
  }
  return withKeyringLock(targetPath, async () => {
    const { text, permissionBits, ownerUserId, ownerGroupId } = await readProtectedFile(targetPath);
    const before = parseKeyringText(text, targetPath);
    const after = addDataKeyVersion(before, purpose);
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
      if (written.dataKeys[purpose].current !== after.dataKeys[purpose].current) {
        throw new BankError("internal", { internalMessage: `the rotated keyring did not read back as written; nothing was replaced` });
      }
      await rename(temporaryPath, targetPath);
      renamed = true;
      await syncDirectory(directory);
    } finally {
      if (!renamed) await rm(temporaryPath, { force: true });
    }
    return after.dataKeys[purpose].current;
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
  for (const purpose of blindIndexPurposes) {
    if (after.blindIndexKeys[purpose] !== before.blindIndexKeys[purpose]) {
      throw new BankError("internal", {
        internalMessage: `rotation would change the ${purpose} blind-index key; nothing was written`,
      });
    }
  }
  // Losing the pepper would make every stored password hash unverifiable.
  if (after.passwordPepper !== before.passwordPepper) {
    throw new BankError("internal", { internalMessage: "rotation would change the password pepper; nothing was written" });
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
  for (const purpose of dataKeyPurposes) {
    const ring = keyring.dataKeys[purpose];
    const versions = new Map<number, KeyObject>();
    for (const [label, encoded] of Object.entries(ring.versions)) {
      versions.set(Number(label), keyObjectFromBase64(encoded));
    }
    const currentKey = versions.get(ring.current);
    // The schema already guarantees this; the check keeps a future schema change from failing silently.
    if (currentKey === undefined) {
      throw new BankError("internal", { internalMessage: `keyring has no key for the current ${purpose} version` });
    }
    dataKeys.set(purpose, { current: { version: ring.current, key: currentKey }, versions });
  }
  const blindIndexKeys = new Map<BlindIndexPurpose, KeyObject>();
  for (const purpose of blindIndexPurposes) {
    blindIndexKeys.set(purpose, keyObjectFromBase64(keyring.blindIndexKeys[purpose]));
  }
  return {
    dataKeys,
    blindIndexKeys,
    passwordPepper: keyObjectFromBase64(keyring.passwordPepper),
    auditCheckpointKey: keyObjectFromBase64(keyring.auditCheckpointKey),
  };
}

function keyObjectFromBase64(encoded: string): KeyObject {
  const bytes = Buffer.from(encoded, "base64");
  try {
    return createSecretKey(bytes);
  } finally {
    bytes.fill(0);
  }
}
