/**
 * Creates the local keyring used for field encryption in development and the local demo:
 *
 *   npx tsx scripts/init-keyring.ts <path>
 *
 * It writes fresh random keys (format documented in lib/crypto/keyring-format.ts) with mode 0600, creating
 * the parent directory with mode 0700 if needed. An existing keyring is never replaced, because every value
 * already encrypted with it would become unreadable; run.sh calls this on every start, so "already exists"
 * is the normal case and exits successfully.
 *
 * A keyring written before the password pepper existed is upgraded in place: a fresh pepper is added and
 * every other key is kept as it was (lib/crypto/keyring-upgrade.ts); so is one written before the audit chain's
 * checkpoint key existed, and one written before encrypted database backups gets its backup key added the same
 * way. A keyring that has all of them is left untouched, so running this again changes nothing.
 *
 * This script runs under plain `tsx`, without the `react-server` condition, so it must not import anything
 * that starts with `import "server-only"` (that import throws outside a server build). It relies only on
 * keyring-format.ts, which is kept free of it for this reason. It never prints key material.
 *
 * Imports here and in keyring-format.ts are relative rather than via the "@/" alias: tsx applies the tsconfig
 * path mapping only when started from the repository root, and the script must work from any directory.
 */
import path from "node:path";
import { createKeyringFile } from "../lib/crypto/keyring-format";
import { addBackupKeyIfMissing, addPasswordPepperIfMissing } from "../lib/crypto/keyring-upgrade";

async function main(argumentsAfterScript: readonly string[]): Promise<number> {
  const [target, ...rest] = argumentsAfterScript;
  if (target === undefined || target.length === 0 || rest.length > 0) {
    console.error("usage: npx tsx scripts/init-keyring.ts <path to keyring.json>");
    return 2;
  }
  const keyringPath = path.resolve(target);
  const result = await createKeyringFile(keyringPath);
  if (result === "created") {
    process.stdout.write(`keyring created with fresh keys (mode 0600): ${keyringPath}\n`);
    return 0;
  }
  const upgrade = await addPasswordPepperIfMissing(keyringPath);
  if (upgrade === "pepper-added") {
    process.stdout.write(`keyring upgraded: password pepper added, other keys kept (mode 0600): ${keyringPath}\n`);
  } else if (upgrade === "audit-checkpoint-key-added") {
    process.stdout.write(`keyring upgraded: audit checkpoint key added, other keys kept (mode 0600): ${keyringPath}\n`);
  }
  // Keyrings made before encrypted database backups existed get their backup key the same way.
  const backupKeyAdded = (await addBackupKeyIfMissing(keyringPath)) === "backup-key-added";
  if (backupKeyAdded) {
    process.stdout.write(`keyring upgraded: backup key added, other keys kept (mode 0600): ${keyringPath}\n`);
  }
  if (upgrade === "up-to-date" && !backupKeyAdded) process.stdout.write(`keyring exists, left as is: ${keyringPath}\n`);
  return 0;
}

main(process.argv.slice(2)).then(
  (exitCode) => {
    process.exitCode = exitCode;
  },
  (error: unknown) => {
    // The errors that can reach here (file-system errors, a non-file at the path, a keyring that fails
    // validation, whose messages name fields but never quote values) carry no key material.
    console.error(`could not initialise the keyring: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
  },
);
