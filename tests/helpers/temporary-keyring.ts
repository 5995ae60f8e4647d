/**
 * A fresh local keyring in a temporary folder, for unit tests that hash or verify passwords (which now go
 * through the password pepper, and so through the key provider). The configuration is stubbed to use it, and
 * the folder is removed after the file's tests. Call it at the top level of a test file, before the first
 * import of a module that reads the configuration: `env()` is read once per process and then frozen.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, vi } from "vitest";
import { createKeyringFile, generateKeyring, type KeyringFileWithoutPepper } from "@/lib/crypto/keyring-format";

export async function stubTemporaryKeyring(): Promise<string> {
  const temporaryRoot = fs.mkdtempSync(path.join(os.tmpdir(), "bank-unit-keyring-"));
  afterAll(() => fs.rmSync(temporaryRoot, { recursive: true, force: true }));
  const keyringPath = path.join(temporaryRoot, "keys", "keyring.json");
  if ((await createKeyringFile(keyringPath)) !== "created") throw new Error("expected a brand-new keyring");
  vi.stubEnv("KEY_PROVIDER", "local");
  vi.stubEnv("KEYRING_PATH", keyringPath);
  return keyringPath;
}

/** A keyring as written before the password pepper existed: valid in every other way, with fresh keys. */
export function keyringWithoutPepper(): KeyringFileWithoutPepper {
  const { dataKeys, blindIndexKeys, format } = generateKeyring();
  return { format, dataKeys, blindIndexKeys };
}

/** Writes `keyringWithoutPepper()` to a new file at `filePath` (mode 0600 in a 0700 folder). */
export function writeKeyringWithoutPepper(filePath: string): KeyringFileWithoutPepper {
  const keyring = keyringWithoutPepper();
  fs.mkdirSync(path.dirname(filePath), { recursive: true, mode: 0o700 });
  fs.writeFileSync(filePath, `${JSON.stringify(keyring, null, 2)}\n`, { mode: 0o600, flag: "wx" });
  return keyring;
}
