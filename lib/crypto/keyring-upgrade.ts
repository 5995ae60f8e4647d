/**
 * Brings a local keyring file written before the password pepper or the audit checkpoint key existed up to
 * date, in place: it adds a fresh random `passwordPepper` and/or `auditCheckpointKey` and keeps every other key exactly as it was (the same base64 strings, so the same
 * bytes), because those keys encrypt data that must stay readable. An existing pepper is never replaced: every
 * peppered password hash depends on it, and a new pepper would make every password wrong.
 *
 * Like keyring-format.ts this module is free of `server-only` and of the "@/" alias, because the standalone
 * initialiser (scripts/init-keyring.ts, plain `tsx`) calls it on every start of run.sh.
 *
 * The replacement is atomic: the upgraded keyring is written to a temporary file in the same directory (mode
 * 0600), flushed, and renamed over the old one, so a reader sees either the old file or the new one, never a
 * half-written one, and a crash half-way leaves the old file in place. Two initialisers started at once must
 * not both add a pepper (the second rename would replace the first pepper, perhaps after an app instance had
 * already hashed a password with it), so the upgrade holds an exclusive lock file while it reads, decides and
 * writes; the second initialiser then fails with a message instead of racing, and run.sh's next start finds
 * the pepper present and does nothing.
 */
import { randomBytes } from "node:crypto";
import { open, readFile, realpath, rename, unlink, type FileHandle } from "node:fs/promises";
import path from "node:path";
import { isDeepStrictEqual } from "node:util";
import { BankError } from "../errors";
import {
  freshEncodedKey,
  isErrorWithCode,
  keyringFileSchema,
  keyringFileWithoutAuditCheckpointKeySchema,
  keyringFileWithoutPepperSchema,
  lacksAuditCheckpointKey,
  lacksPasswordPepper,
  parseKeyringJson,
  serialiseKeyring,
  syncDirectory,
  validateKeyring,
  type KeyringFile,
} from "./keyring-format";

/**
 * "pepper-added": the file had no pepper (and therefore no audit checkpoint key either; both were added).
 * "audit-checkpoint-key-added": the file had its pepper but predates the audit chain's checkpoint key.
 */
export type KeyringUpgradeResult = "pepper-added" | "audit-checkpoint-key-added" | "up-to-date";

/**
 * Adds a password pepper and an audit checkpoint key to the keyring at `filePath` where missing; returns what
 * it did (the name predates the audit key). The path must
 * name an existing keyring (createKeyringFile makes new ones, already with a pepper). A symbolic link is
 * followed and the file it points to is upgraded, so that the link stays a link.
 */
export async function addPasswordPepperIfMissing(filePath: string): Promise<KeyringUpgradeResult> {
  const targetPath = await realpath(path.resolve(filePath));
  // The usual case (every start after the first) only reads: no lock file is made, so a keyring in a
  // read-only directory that already has its pepper keeps working.
  if (await isUpToDate(targetPath)) return "up-to-date";

  const directory = path.dirname(targetPath);
  const lockPath = path.join(directory, `.${path.basename(targetPath)}.upgrade-lock`);
  const lock = await takeLock(lockPath, targetPath);
  try {
    // Read again now that the lock is held: a concurrent initialiser that added the pepper first is then seen.
    const current = await readRegularFile(targetPath);
    const json = parseKeyringJson(current.text, targetPath);
    if (!lacksPasswordPepper(json) && !lacksAuditCheckpointKey(json)) {
      validateKeyring(keyringFileSchema, json, targetPath);
      return "up-to-date";
    }
    // The schema refuses a new key equal to any other key; with 256 random bits that cannot happen by chance,
    // and the validation inside serialiseKeyring would stop the write if it ever did. An existing pepper is
    // kept as it is; only what is missing is added.
    let upgraded: KeyringFile;
    let result: KeyringUpgradeResult;
    if (lacksPasswordPepper(json)) {
      const withoutPepper = validateKeyring(keyringFileWithoutPepperSchema, json, targetPath);
      upgraded = { ...withoutPepper, passwordPepper: freshEncodedKey(), auditCheckpointKey: freshEncodedKey() };
      result = "pepper-added";
    } else {
      const withoutAuditKey = validateKeyring(keyringFileWithoutAuditCheckpointKeySchema, json, targetPath);
      upgraded = { ...withoutAuditKey, auditCheckpointKey: freshEncodedKey() };
      result = "audit-checkpoint-key-added";
    }
    await replaceFileAtomically(targetPath, serialiseKeyring(upgraded), current.owner, (writtenText, writtenPath) => {
      // What reached the disk is read back and compared before it replaces anything, so that no bug between
      // here and the file system can lose or alter a key that existing data depends on.
      const written = validateKeyring(keyringFileSchema, parseKeyringJson(writtenText, writtenPath), writtenPath);
      if (!sameKeys(written, upgraded)) {
        throw new BankError("internal", {
          internalMessage: `the upgraded keyring did not read back as written; ${targetPath} was left as it was`,
        });
      }
    });
    return result;
  } finally {
    await lock.close();
    await unlink(lockPath);
  }
}

/** Whether the keyring already has a pepper; it is then validated in full, so a damaged one is reported now. */
async function isUpToDate(targetPath: string): Promise<boolean> {
  const json = parseKeyringJson((await readRegularFile(targetPath)).text, targetPath);
  if (lacksPasswordPepper(json) || lacksAuditCheckpointKey(json)) return false;
  validateKeyring(keyringFileSchema, json, targetPath);
  return true;
}

async function takeLock(lockPath: string, targetPath: string): Promise<FileHandle> {
  try {
    // "wx" fails if the file exists, which makes taking the lock one atomic step.
    return await open(lockPath, "wx", 0o600);
  } catch (error) {
    if (isErrorWithCode(error, "EEXIST")) {
      throw new BankError("internal", {
        internalMessage:
          `another initialiser is upgrading keyring ${targetPath} (lock file ${lockPath} exists); ` +
          `if none is running, a previous one was interrupted: remove ${lockPath} and start again`,
      });
    }
    throw error;
  }
}

interface FileOwner {
  readonly userId: number;
  readonly groupId: number;
}

async function readRegularFile(filePath: string): Promise<{ text: string; owner: FileOwner }> {
  const handle = await open(filePath, "r");
  try {
    const status = await handle.stat();
    if (!status.isFile()) {
      throw new BankError("internal", { internalMessage: `keyring ${filePath} is not a regular file` });
    }
    // The same refusal as the provider's: writing the upgrade with mode 0600 would otherwise hide that the
    // keys were readable by others, and the operator must decide whether they have to be replaced.
    const permissionBits = status.mode & 0o777;
    if ((permissionBits & 0o077) !== 0) {
      throw new BankError("internal", {
        internalMessage:
          `keyring ${filePath} is accessible by group or others (mode 0${permissionBits.toString(8)}); ` +
          `refusing to upgrade it. Restrict it with: chmod 600 ${filePath}`,
      });
    }
    return { text: await handle.readFile("utf8"), owner: { userId: status.uid, groupId: status.gid } };
  } finally {
    await handle.close();
  }
}

/** Every key of both keyrings is the same string (so the same bytes), the pepper included. */
function sameKeys(first: KeyringFile, second: KeyringFile): boolean {
  return isDeepStrictEqual(
    {
      dataKeys: first.dataKeys,
      blindIndexKeys: first.blindIndexKeys,
      passwordPepper: first.passwordPepper,
      auditCheckpointKey: first.auditCheckpointKey,
      backupKey: first.backupKey,
    },
    {
      dataKeys: second.dataKeys,
      blindIndexKeys: second.blindIndexKeys,
      passwordPepper: second.passwordPepper,
      auditCheckpointKey: second.auditCheckpointKey,
      backupKey: second.backupKey,
    },
  );
}

async function replaceFileAtomically(
  targetPath: string,
  contents: string,
  owner: FileOwner,
  checkWritten: (writtenText: string, writtenPath: string) => void,
): Promise<void> {
  const directory = path.dirname(targetPath);
  const temporaryPath = path.join(directory, `.${path.basename(targetPath)}.${randomBytes(8).toString("hex")}.tmp`);
  // "wx" refuses to follow or reuse anything already at the temporary name.
  const handle = await open(temporaryPath, "wx", 0o600);
  let renamed = false;
  try {
    try {
      // The umask can only remove permission bits; chmod makes the new file exactly 0600 whatever the old
      // file's mode was (the provider refuses anything readable by group or others).
      await handle.chmod(0o600);
      // The new file belongs to whoever ran the initialiser; when that is root upgrading the keyring of the
      // user the app runs as, the app could no longer read its own keys. Only root can give a file away, and
      // anyone else who could read the 0600 keyring already owns it, so only root needs to chown.
      if (process.getuid?.() === 0) await handle.chown(owner.userId, owner.groupId);
      await handle.writeFile(contents, "utf8");
      // Flushed before the rename, so that a power loss cannot leave the new name pointing at empty blocks.
      await handle.sync();
    } finally {
      await handle.close();
    }
    checkWritten(await readFile(temporaryPath, "utf8"), temporaryPath);
    // rename replaces the old keyring in one step; on the same file system it is atomic for every reader.
    await rename(temporaryPath, targetPath);
    renamed = true;
    await syncDirectory(directory);
  } finally {
    if (!renamed) await unlink(temporaryPath);
  }
}

export type BackupKeyUpgradeResult = "backup-key-added" | "up-to-date";

/**
 * Adds the backup key (which wraps each database backup's file key, lib/backup) to a keyring that has none,
 * in place, keeping every other key byte for byte, exactly like the pepper upgrade above and under the same
 * lock file, so that the two upgrades never race each other. An existing backup key is never replaced: every
 * backup made with it would become unreadable. The keyring must already have its pepper (run
 * `addPasswordPepperIfMissing` first, as scripts/init-keyring.ts does).
 */
export async function addBackupKeyIfMissing(filePath: string): Promise<BackupKeyUpgradeResult> {
  const targetPath = await realpath(path.resolve(filePath));
  if (validateKeyring(keyringFileSchema, parseKeyringJson((await readRegularFile(targetPath)).text, targetPath), targetPath).backupKey !== undefined) {
    return "up-to-date";
  }
  const directory = path.dirname(targetPath);
  const lockPath = path.join(directory, `.${path.basename(targetPath)}.upgrade-lock`);
  const lock = await takeLock(lockPath, targetPath);
  try {
    const current = await readRegularFile(targetPath);
    const keyring = validateKeyring(keyringFileSchema, parseKeyringJson(current.text, targetPath), targetPath);
    if (keyring.backupKey !== undefined) return "up-to-date";
    const upgraded: KeyringFile = { ...keyring, backupKey: freshEncodedKey() };
    await replaceFileAtomically(targetPath, serialiseKeyring(upgraded), current.owner, (writtenText, writtenPath) => {
      const written = validateKeyring(keyringFileSchema, parseKeyringJson(writtenText, writtenPath), writtenPath);
      if (!sameKeys(written, upgraded)) {
        throw new BankError("internal", {
          internalMessage: `the upgraded keyring did not read back as written; ${targetPath} was left as it was`,
        });
      }
    });
    return "backup-key-added";
  } finally {
    await lock.close();
    await unlink(lockPath);
  }
}
