/**
 * Setting up a SoftHSM2 token for the PKCS#11 key provider: used by `npm run hsm:init` (scripts/hsm-init.ts)
 * and by the tests (tests/helpers/softhsm-token.ts), which make a fresh token per test file.
 *
 * It lives in scripts/ rather than lib/ because it starts `softhsm2-util`, and application code never starts
 * processes (eslint.config.mjs). It runs under plain `tsx`, so it imports nothing that is `server-only`, and
 * only through relative paths (see scripts/init-keyring.ts for why).
 *
 * Nothing here prints or logs a PIN: the PINs go into files with mode 0600, and only their paths are shown.
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import {
  createBankKeysIfMissing,
  findSlotByLabel,
  loadedGeneration,
  loadedModule,
  openUserSession,
  resetModule,
  TokenProblem,
  closeSessionQuietly,
  type BankKeyLabels,
  type KeyCreationResult,
} from "../lib/crypto/pkcs11-token";

export const softHsmModulePath = "/usr/lib/softhsm/libsofthsm2.so";

export interface SoftHsmToken {
  readonly configPath: string;
  readonly tokenLabel: string;
  readonly userPinFile: string;
  readonly securityOfficerPinFile: string;
}

/**
 * Writes a softhsm2.conf whose token folder is `tokenDirectory`, unless a file exists at `configPath` already
 * (an existing configuration is the operator's and is left alone). Returns the token folder in use.
 */
export function writeSoftHsmConfig(configPath: string, tokenDirectory: string): "created" | "exists" {
  fs.mkdirSync(path.dirname(configPath), { recursive: true, mode: 0o700 });
  fs.mkdirSync(tokenDirectory, { recursive: true, mode: 0o700 });
  const text = [
    "# Written by npm run hsm:init for local use of SoftHSM2. The tokens (and with them the bank's",
    "# key-encryption key and password pepper) live in the folder below: back it up together with the database.",
    `directories.tokendir = ${path.resolve(tokenDirectory)}`,
    "objectstore.backend = file",
    "log.level = ERROR",
    "slots.removable = false",
    "",
  ].join("\n");
  try {
    // "wx": never overwrite, and never follow something already placed at the path.
    fs.writeFileSync(configPath, text, { flag: "wx", mode: 0o600 });
    return "created";
  } catch (error) {
    if (error instanceof Error && "code" in error && error.code === "EEXIST") return "exists";
    throw error;
  }
}

/** Writes a new random PIN to `filePath` (mode 0600) unless the file exists; returns the PIN in the file. */
function pinInFile(filePath: string): { pin: string; created: boolean } {
  fs.mkdirSync(path.dirname(filePath), { recursive: true, mode: 0o700 });
  // 24 hexadecimal characters: 96 bits, and within every token's PIN length and alphabet limits.
  const pin = randomBytes(12).toString("hex");
  try {
    fs.writeFileSync(filePath, `${pin}\n`, { flag: "wx", mode: 0o600 });
    return { pin, created: true };
  } catch (error) {
    if (!(error instanceof Error && "code" in error && error.code === "EEXIST")) throw error;
    return { pin: fs.readFileSync(filePath, "utf8").replace(/\r?\n$/, ""), created: false };
  }
}

function tokenExists(configPath: string, tokenLabel: string): boolean {
  // softhsm2-util --show-slots lists every initialised token with its label; run with our configuration only.
  const output = execFileSync("softhsm2-util", ["--show-slots"], {
    env: { ...process.env, SOFTHSM2_CONF: configPath },
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
  });
  return output.split("\n").some((line) => /^\s*Label:\s*(.*?)\s*$/.exec(line)?.[1] === tokenLabel);
}

export interface InitialisedToken extends SoftHsmToken {
  readonly token: "created" | "exists";
  readonly keyEncryptionKey: KeyCreationResult;
  readonly pepperKey: KeyCreationResult;
  readonly auditCheckpointKey: KeyCreationResult;
}

/**
 * Makes sure a token labelled `tokenLabel` exists (initialising a free slot with generated PINs if not) and
 * holds the key-encryption key, the pepper key and the audit checkpoint key. Idempotent: run again, it changes nothing.
 *
 * `SOFTHSM2_CONF` must name `configPath` in this process before the library is first loaded (SoftHSM2 reads
 * it in C_Initialize); this function sets it.
 */
export function initialiseSoftHsmToken(options: {
  configPath: string;
  tokenLabel: string;
  pinDirectory: string;
  labels: BankKeyLabels;
  modulePath?: string;
}): InitialisedToken {
  const modulePath = options.modulePath ?? softHsmModulePath;
  process.env.SOFTHSM2_CONF = options.configPath;
  const userPinFile = path.join(options.pinDirectory, `${options.tokenLabel}.user-pin`);
  const securityOfficerPinFile = path.join(options.pinDirectory, `${options.tokenLabel}.so-pin`);

  let token: "created" | "exists" = "exists";
  if (!tokenExists(options.configPath, options.tokenLabel)) {
    const userPin = pinInFile(userPinFile);
    const securityOfficerPin = pinInFile(securityOfficerPinFile);
    if (!userPin.created || !securityOfficerPin.created) {
      // PIN files without their token would mean initialising a new token under old PINs, or that the token
      // folder was lost while the PINs remained; either way a person should look before anything is created.
      throw new Error(
        `PIN files for "${options.tokenLabel}" exist in ${options.pinDirectory} but the token does not; ` +
          "move them away if the token is really gone (its keys, and all data encrypted under them, are lost)",
      );
    }
    // The PINs go to softhsm2-util as arguments, visible in the process list for the moment it runs; that is
    // acceptable for a local SoftHSM2 token (the tokens folder itself is readable by the same user anyway).
    execFileSync(
      "softhsm2-util",
      [
        "--init-token",
        "--free",
        "--label",
        options.tokenLabel,
        "--so-pin",
        securityOfficerPin.pin,
        "--pin",
        userPin.pin,
      ],
      { env: { ...process.env, SOFTHSM2_CONF: options.configPath }, stdio: ["ignore", "ignore", "pipe"] },
    );
    token = "created";
    // SoftHSM2 lists only the tokens it found at initialisation: a library already loaded in this process
    // must be re-initialised to see the new token.
    const generation = loadedGeneration(modulePath);
    if (generation !== undefined) resetModule(modulePath, generation);
  }
  if (!fs.existsSync(userPinFile)) {
    throw new TokenProblem(`the token "${options.tokenLabel}" exists but its PIN file ${userPinFile} does not`, false);
  }
  const { pin } = pinInFile(userPinFile);
  const { module: library } = loadedModule(modulePath);
  const session = openUserSession(findSlotByLabel(library, options.tokenLabel), pin);
  try {
    const keys = createBankKeysIfMissing(session, options.labels);
    return {
      configPath: options.configPath,
      tokenLabel: options.tokenLabel,
      userPinFile,
      securityOfficerPinFile,
      token,
      ...keys,
    };
  } finally {
    closeSessionQuietly(session);
  }
}
