/**
 * A private SoftHSM2 for one test file: a softhsm2.conf and token folder in a temporary directory, and fresh
 * tokens (each with its own generated PINs, key-encryption key and pepper key) made on demand by
 * `createToken`. Everything is removed in afterAll.
 *
 * SoftHSM2 reads SOFTHSM2_CONF once, when the library is initialised in this process, so the configuration is
 * set in beforeAll, before any test loads the library; every token of the file lives in the same folder.
 * Vitest runs each integration file in its own worker process, so files never share a library or tokens.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll } from "vitest";
import { initialiseSoftHsmToken, softHsmModulePath, writeSoftHsmConfig } from "@/scripts/softhsm-setup";
import { loadedGeneration, resetModule, type BankKeyLabels } from "@/lib/crypto/pkcs11-token";

export const testKeyLabels: BankKeyLabels = {
  keyEncryptionKeyLabel: "bank-kek",
  pepperKeyLabel: "bank-password-pepper",
};

export interface TestToken {
  readonly tokenLabel: string;
  readonly userPinFile: string;
  /** The user PIN, for tests that log in themselves (never printed). */
  readonly userPin: string;
}

export interface SoftHsm {
  readonly modulePath: string;
  readonly directory: string;
  createToken(tokenLabel: string): TestToken;
}

export function useSoftHsm(): () => SoftHsm {
  let softHsm: SoftHsm | undefined;
  let directory: string | undefined;
  let previousConfig: string | undefined;

  beforeAll(() => {
    if (!fs.existsSync(softHsmModulePath)) {
      throw new Error(`SoftHSM2 is not installed (${softHsmModulePath}); ./run.sh test installs the softhsm2 package`);
    }
    directory = fs.mkdtempSync(path.join(os.tmpdir(), "bank-softhsm-"));
    const configPath = path.join(directory, "softhsm2.conf");
    writeSoftHsmConfig(configPath, path.join(directory, "tokens"));
    previousConfig = process.env.SOFTHSM2_CONF;
    process.env.SOFTHSM2_CONF = configPath;
    const pinDirectory = path.join(directory, "pins");
    softHsm = {
      modulePath: softHsmModulePath,
      directory,
      createToken(tokenLabel) {
        const result = initialiseSoftHsmToken({ configPath, tokenLabel, pinDirectory, labels: testKeyLabels });
        if (result.token !== "created") throw new Error(`expected a brand-new token "${tokenLabel}"`);
        const userPin = fs.readFileSync(result.userPinFile, "utf8").trim();
        return { tokenLabel, userPinFile: result.userPinFile, userPin };
      },
    };
  });

  afterAll(() => {
    // Finalising the library ends every session before the token files are removed under it.
    const generation = loadedGeneration(softHsmModulePath);
    if (generation !== undefined) resetModule(softHsmModulePath, generation);
    if (previousConfig === undefined) Reflect.deleteProperty(process.env, "SOFTHSM2_CONF");
    else process.env.SOFTHSM2_CONF = previousConfig;
    if (directory) fs.rmSync(directory, { recursive: true, force: true });
  });

  return () => {
    if (!softHsm) throw new Error("the SoftHSM2 test setup is not ready yet (use it inside hooks or tests)");
    return softHsm;
  };
}
