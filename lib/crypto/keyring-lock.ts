import "server-only";
/**
 * An exclusive lock around changes to the local keyring file, held by creating `<keyring>.lock` with
 * O_CREAT|O_EXCL: the operating system lets exactly one creator succeed, across processes and within one,
 * which is all a read-modify-write of the keyring needs to keep two rotations from losing each other's new
 * version. The lock file names its owner (process id and host) so that an operator can tell whose it is.
 *
 * A lock left behind by a process that crashed is NOT removed automatically: deciding that a lock is stale
 * and deleting it races with a second waiter that decides the same and deletes the lock the first one has
 * just taken, so two rotations would run at once after all. The error says which file to remove instead;
 * rotations are rare, manual operations, so asking a person is the safe trade.
 */
import { hostname } from "node:os";
import { open, readFile, rm } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";
import { BankError } from "@/lib/errors";
import { isErrorWithCode } from "@/lib/crypto/keyring-format";

/** Long enough for another rotation (a few file operations) to finish, short enough to fail visibly. */
const defaultWaitMilliseconds = 15_000;
const retryDelayMilliseconds = 25;

export async function withKeyringLock<Result>(
  keyringPath: string,
  work: () => Promise<Result>,
  waitMilliseconds = defaultWaitMilliseconds,
): Promise<Result> {
  const lockPath = `${keyringPath}.lock`;
  await acquire(lockPath, waitMilliseconds);
  try {
    return await work();
  } finally {
    await rm(lockPath, { force: true });
  }
}

async function acquire(lockPath: string, waitMilliseconds: number): Promise<void> {
  const deadline = Date.now() + waitMilliseconds;
  for (;;) {
    try {
      const handle = await open(lockPath, "wx", 0o600);
      try {
        await handle.writeFile(`${String(process.pid)}@${hostname()}\n`, "utf8");
      } finally {
        await handle.close();
      }
      return;
    } catch (error) {
      if (!isErrorWithCode(error, "EEXIST")) {
        throw new BankError("internal", { internalMessage: `cannot create the keyring lock ${lockPath}`, cause: error });
      }
    }
    if (Date.now() >= deadline) {
      const owner = await readFile(lockPath, "utf8").then(
        (text) => text.trim(),
        () => "unknown",
      );
      throw new BankError("unavailable", {
        internalMessage:
          `the keyring is locked by ${owner} (${lockPath}); if no rotation is running there, ` +
          "a previous one crashed: remove the lock file and try again",
      });
    }
    await sleep(retryDelayMilliseconds);
  }
}
