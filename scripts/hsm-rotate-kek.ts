/**
 * `npm run hsm:rotate-kek -- <new label>`: rotates the key-encryption key of KEY_PROVIDER=pkcs11.
 *
 * 1. Creates a new key-encryption key labelled <new label> in the configured token (same attributes as the one
 *    `hsm:init` makes) unless it exists.
 * 2. Re-wraps every row of data_keys that is wrapped by another key-encryption key under the new one, inside
 *    the token. The data keys themselves do not change, so no encrypted field needs touching, and running app
 *    instances keep working throughout: they unwrap each row with the key its `wrapping_key_label` names.
 *    A run that re-wrapped anything is recorded in the audit trail (crypto.key_encryption_key.rotated).
 *
 * Afterwards set PKCS11_KEK_LABEL=<new label> for every instance and restart them, then run this again to
 * re-wrap any data key that an instance still on the old label created meanwhile (it reports 0 when none is
 * left). Only then may the old key be destroyed in the token, and only once no backup of the database that
 * still needs it is kept.
 */
import "../db/load-environment";
import { readFileSync } from "node:fs";
import { closeDatabase } from "@/db/client";
import { configuredDataKeyStore } from "@/lib/crypto/data-key-store";
import { createPkcs11Provider } from "@/lib/crypto/pkcs11-provider";
import { rewrapDataKeysUnderNewKey } from "@/lib/crypto/rewrap-data-keys";
import {
  closeSessionQuietly,
  createKeyEncryptionKeyIfMissing,
  findSlotByLabel,
  loadedModule,
  openUserSession,
} from "@/lib/crypto/pkcs11-token";
import { env } from "@/lib/env";

async function main(argumentsAfterScript: readonly string[]): Promise<number> {
  const [newLabel, ...rest] = argumentsAfterScript;
  if (!newLabel || rest.length > 0 || newLabel.length > 128) {
    console.error("usage: npm run hsm:rotate-kek -- <label of the new key-encryption key>");
    return 2;
  }
  const configuration = env();
  const { modulePath, tokenLabel, pin, pinFile, pepperKeyLabel } = configuration.pkcs11;
  if (configuration.keyProvider !== "pkcs11" || !modulePath || !tokenLabel) {
    console.error("hsm:rotate-kek needs KEY_PROVIDER=pkcs11 with PKCS11_MODULE and PKCS11_TOKEN_LABEL");
    return 2;
  }
  if (newLabel === pepperKeyLabel) {
    console.error("the new key-encryption key cannot share the pepper key's label");
    return 2;
  }
  if (newLabel === configuration.audit.pkcs11KeyLabel) {
    console.error("the new key-encryption key cannot share the audit checkpoint key's label");
    return 2;
  }
  const userPin = pinFile ? readFileSync(pinFile, "utf8").replace(/\r?\n$/, "") : (pin ?? "");
  const { module: library } = loadedModule(modulePath);
  const session = openUserSession(findSlotByLabel(library, tokenLabel), userPin);
  let created: string;
  try {
    created = createKeyEncryptionKeyIfMissing(session, newLabel);
  } finally {
    closeSessionQuietly(session);
  }
  process.stdout.write(`key-encryption key "${newLabel}": ${created}\n`);

  const provider = createPkcs11Provider({
    modulePath,
    tokenLabel,
    pin,
    pinFile,
    keyEncryptionKeyLabel: newLabel,
    pepperKeyLabel,
    refreshSeconds: configuration.keyRefreshSeconds,
    openStore: configuredDataKeyStore,
  });
  try {
    const rewrapped = await rewrapDataKeysUnderNewKey(provider, newLabel);
    process.stdout.write(
      `re-wrapped ${rewrapped} data key row(s) under "${newLabel}".\n` +
        (newLabel === configuration.pkcs11.keyEncryptionKeyLabel
          ? "PKCS11_KEK_LABEL already names this key.\n"
          : `Now set PKCS11_KEK_LABEL=${newLabel} for every instance, restart them, and run this command again.\n`),
    );
  } finally {
    await provider.close();
  }
  return 0;
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (error) {
  console.error(`hsm:rotate-kek failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
} finally {
  await closeDatabase();
}
