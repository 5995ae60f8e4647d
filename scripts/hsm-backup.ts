/**
 * Backup and restore of a SoftHSM2 token, the stand-in for the HSM in local and test setups:
 *
 *   npm run hsm:backup -- <backup file>
 *   npm run hsm:restore -- <backup file> [<token directory>]
 *
 * Why this exists: the key-encryption key and the password pepper are created non-extractable inside the
 * token, so they can never be exported as key material. Losing the token therefore loses every encrypted field
 * and every backup of the database. A real HSM solves this with its own backup or cloning (keys leave only
 * wrapped for another HSM of the same security domain); for SoftHSM2 the token is a directory of files whose
 * sensitive attributes are encrypted under the token's PIN, and copying that directory is the backup.
 *
 * The copy is made "securely" here: the token directory (SOFTHSM2_CONF's `directories.tokendir`, every token
 * in it) is packed with tar and sealed with AES-256-GCM under a key derived by scrypt from a backup passphrase
 * (HSM_BACKUP_PASSPHRASE_FILE, or HSM_BACKUP_PASSPHRASE; at least 16 characters). The file is written with mode
 * 0600 and never overwritten. A restore checks the seal before anything is extracted, and only into a token
 * directory that is missing or empty, so it can never mix two tokens or replace a live one by accident.
 * Passphrases and PINs are never printed.
 */
import { execFile } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { promisify } from "node:util";

const execFileAsync = promisify(execFile);

// "Harbour Bank token backup", format 1. The header is authenticated as AAD, so a changed salt or format is
// detected like changed contents.
const magic = Buffer.from("HBTB1", "ascii");
const saltLength = 16;
const ivLength = 12;
const tagLength = 16;
// scrypt at N=2^17, r=8, p=1: about 128 MiB and a few hundred milliseconds per derivation, OWASP's
// recommendation for scrypt; a backup is made and restored rarely, so the cost falls on guessing only.
const scryptParameters = { N: 2 ** 17, r: 8, p: 1, maxmem: 256 * 1024 * 1024 } as const;
const minimumPassphraseLength = 16;

export function tokenDirectoryFromConfiguration(configurationPath: string): string {
  const text = fs.readFileSync(configurationPath, "utf8");
  const line = text.split("\n").find((candidate) => /^\s*directories\.tokendir\s*=/.test(candidate));
  const directory = line?.split("=").slice(1).join("=").trim();
  if (!directory) throw new Error(`${configurationPath} names no directories.tokendir`);
  return directory;
}

export function backupPassphrase(environment: NodeJS.ProcessEnv = process.env): string {
  const fromFile = environment.HSM_BACKUP_PASSPHRASE_FILE;
  const passphrase = fromFile ? fs.readFileSync(fromFile, "utf8").replace(/\r?\n$/, "") : environment.HSM_BACKUP_PASSPHRASE;
  if (!passphrase || passphrase.length < minimumPassphraseLength) {
    throw new Error(`set HSM_BACKUP_PASSPHRASE_FILE (or HSM_BACKUP_PASSPHRASE) to a passphrase of at least ${minimumPassphraseLength} characters`);
  }
  return passphrase;
}

function deriveKey(passphrase: string, salt: Buffer): Buffer {
  return crypto.scryptSync(passphrase.normalize("NFC"), salt, 32, scryptParameters);
}

/** Seals the whole token directory into `backupPath` (which must not exist yet). */
export async function backupTokenDirectory(tokenDirectory: string, backupPath: string, passphrase: string): Promise<void> {
  if (!fs.statSync(tokenDirectory).isDirectory()) throw new Error(`${tokenDirectory} is not a directory`);
  const { stdout } = await execFileAsync("tar", ["-C", tokenDirectory, "-cf", "-", "."], { encoding: "buffer", maxBuffer: 1 << 28 });
  const salt = crypto.randomBytes(saltLength);
  const iv = crypto.randomBytes(ivLength);
  const key = deriveKey(passphrase, salt);
  try {
    const cipher = crypto.createCipheriv("aes-256-gcm", key, iv, { authTagLength: tagLength });
    cipher.setAAD(Buffer.concat([magic, salt]));
    const sealed = Buffer.concat([cipher.update(stdout), cipher.final()]);
    // "wx": never replace an existing file (an older backup may be the only good one).
    fs.writeFileSync(backupPath, Buffer.concat([magic, salt, iv, cipher.getAuthTag(), sealed]), { mode: 0o600, flag: "wx" });
  } finally {
    key.fill(0);
  }
}

/** Checks the seal of `backupPath` and extracts it into `tokenDirectory`, which must be missing or empty. */
export async function restoreTokenDirectory(backupPath: string, tokenDirectory: string, passphrase: string): Promise<void> {
  const file = fs.readFileSync(backupPath);
  const headerLength = magic.length + saltLength + ivLength + tagLength;
  if (file.length < headerLength || !file.subarray(0, magic.length).equals(magic)) throw new Error(`${backupPath} is not a token backup`);
  const salt = file.subarray(magic.length, magic.length + saltLength);
  const iv = file.subarray(magic.length + saltLength, magic.length + saltLength + ivLength);
  const tag = file.subarray(magic.length + saltLength + ivLength, headerLength);
  const key = deriveKey(passphrase, salt);
  let archive: Buffer;
  try {
    const decipher = crypto.createDecipheriv("aes-256-gcm", key, iv, { authTagLength: tagLength });
    decipher.setAAD(Buffer.concat([magic, salt]));
    decipher.setAuthTag(tag);
    archive = Buffer.concat([decipher.update(file.subarray(headerLength)), decipher.final()]);
  } catch {
    throw new Error("the backup could not be opened: wrong passphrase, or the file was changed");
  } finally {
    key.fill(0);
  }
  if (fs.existsSync(tokenDirectory) && fs.readdirSync(tokenDirectory).length > 0) {
    throw new Error(`${tokenDirectory} is not empty: restore into a new token directory`);
  }
  fs.mkdirSync(tokenDirectory, { recursive: true, mode: 0o700 });
  await new Promise<void>((resolve, reject) => {
    const child = execFile("tar", ["-C", tokenDirectory, "-xf", "-", "--no-same-owner"], (error) => (error ? reject(error) : resolve()));
    child.stdin?.end(archive);
  });
}

async function main(argumentsAfterScript: readonly string[]): Promise<number> {
  const [command, backupPath, targetDirectory] = argumentsAfterScript;
  const configurationPath = process.env.SOFTHSM2_CONF;
  if ((command !== "backup" && command !== "restore") || !backupPath) {
    console.error("usage: npm run hsm:backup -- <backup file> | npm run hsm:restore -- <backup file> [<token directory>]");
    return 2;
  }
  if (!configurationPath && !(command === "restore" && targetDirectory)) {
    console.error("SOFTHSM2_CONF must name the SoftHSM2 configuration (npm run hsm:init prints it)");
    return 2;
  }
  const tokenDirectory = targetDirectory ? path.resolve(targetDirectory) : tokenDirectoryFromConfiguration(configurationPath ?? "");
  const passphrase = backupPassphrase();
  if (command === "backup") {
    await backupTokenDirectory(tokenDirectory, path.resolve(backupPath), passphrase);
    console.log(`token directory ${tokenDirectory} sealed into ${path.resolve(backupPath)}`);
  } else {
    await restoreTokenDirectory(path.resolve(backupPath), tokenDirectory, passphrase);
    console.log(`token restored into ${tokenDirectory}; point SOFTHSM2_CONF's directories.tokendir at it`);
  }
  return 0;
}

// Run only as a script, not when a test imports the functions above.
if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(import.meta.filename)) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      console.error(error instanceof Error ? error.message : error);
      process.exitCode = 1;
    },
  );
}
