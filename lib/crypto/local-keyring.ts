import "server-only";
/**
 * A key provider backed by a JSON keyring file on local disk (format documented in `keyring-format.ts`).
 * It is meant for development and the local demo; production configuration requires the PKCS#11 provider,
 * where keys never sit in a plain file (see `parseEnvironment` in lib/env-schema.ts).
 */
import { createSecretKey, type KeyObject } from "node:crypto";
import { open, type FileHandle } from "node:fs/promises";
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
import { parseKeyringText, type KeyringFile } from "@/lib/crypto/keyring-format";

interface LoadedDataKeyRing {
  readonly current: VersionedDataKey;
  readonly versions: ReadonlyMap<number, KeyObject>;
}

interface LoadedKeyring {
  readonly dataKeys: ReadonlyMap<DataKeyPurpose, LoadedDataKeyRing>;
  readonly blindIndexKeys: ReadonlyMap<BlindIndexPurpose, KeyObject>;
}

/** Any of these permission bits would let a user other than the file's owner read or change the keys. */
const groupAndOtherPermissionBits = 0o077;

export function createLocalKeyring(filePath: string): KeyProvider {
  // The promise (not its result) is cached so that concurrent first requests share a single read. A failed
  // load is not cached: every call fails until the operator fixes the file, and then the next call succeeds
  // without a restart. Nothing ever falls back to a default key.
  let loading: Promise<LoadedKeyring> | undefined;

  function loaded(): Promise<LoadedKeyring> {
    if (loading === undefined) {
      const attempt = loadKeyring(filePath);
      loading = attempt;
      attempt.catch(() => {
        if (loading === attempt) loading = undefined;
      });
    }
    return loading;
  }

  return {
    async currentDataKey(purpose) {
      return dataKeyRing(await loaded(), purpose, filePath).current;
    },

    async dataKey(purpose, version) {
      const key = dataKeyRing(await loaded(), purpose, filePath).versions.get(version);
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

    async pepperPassword() {
      throw new BankError("internal", { internalMessage: "pepperPassword arrives with the pepper branch" });
    },

    async rotateDataKey() {
      throw new BankError("internal", { internalMessage: "rotateDataKey arrives with the rotation branch" });
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
  const text = await readProtectedFile(filePath);
  return toKeyObjects(parseKeyringText(text, filePath));
}

/**
 * Opens the file first and then checks the permissions of the open descriptor (fstat), rather than calling
 * stat on the path and opening afterwards: that way the file whose mode we check is exactly the file we
 * read, with no window for it to be swapped in between. Symbolic links are followed on purpose, since the
 * check applies to the file they resolve to.
 */
async function readProtectedFile(filePath: string): Promise<string> {
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
    return await handle.readFile("utf8");
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
  return { dataKeys, blindIndexKeys };
}

function keyObjectFromBase64(encoded: string): KeyObject {
  const bytes = Buffer.from(encoded, "base64");
  try {
    return createSecretKey(bytes);
  } finally {
    bytes.fill(0);
  }
}
