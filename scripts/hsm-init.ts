/**
 * `npm run hsm:init`: prepares a SoftHSM2 token for KEY_PROVIDER=pkcs11 on this machine.
 *
 * - Writes a softhsm2.conf whose token folder is `<DATA_DIR>/softhsm/tokens` (DATA_DIR defaults to .data),
 *   unless SOFTHSM2_CONF is set, in which case that configuration is used as it is.
 * - Initialises the token PKCS11_TOKEN_LABEL (default "bank") in a free slot if no token has that label, with a
 *   generated security-officer PIN and user PIN written to files with mode 0600 in `<DATA_DIR>/softhsm/`.
 * - Creates the key-encryption key (PKCS11_KEK_LABEL, default "bank-kek": AES-256, on the token, sensitive,
 *   never extractable, encrypt/decrypt only) and the password pepper (PKCS11_PEPPER_LABEL, default
 *   "bank-password-pepper": a 256-bit HMAC key, sensitive, never extractable, sign only) and the audit
 *   checkpoint key (PKCS11_AUDIT_KEY_LABEL, default "bank-audit-checkpoint": the same kind of HMAC key, which
 *   signs checkpoints of the audit chain) if they are missing.
 * - Prints the variables to export. Never prints a PIN.
 *
 * Idempotent: a second run finds everything in place and changes nothing. The data keys are not made here:
 * the app creates them in the `data_keys` table on its first start, wrapped by the key-encryption key.
 *
 * A real HSM is set up with its vendor's tools instead (token, PINs, and the two keys with the same attributes).
 */
import "../db/load-environment";
import path from "node:path";
import { initialiseSoftHsmToken, softHsmModulePath, writeSoftHsmConfig } from "./softhsm-setup";

function main(): number {
  const dataDirectory = path.resolve(process.env.DATA_DIR || ".data");
  const softHsmDirectory = path.join(dataDirectory, "softhsm");
  const tokenLabel = process.env.PKCS11_TOKEN_LABEL || "bank";
  const labels = {
    keyEncryptionKeyLabel: process.env.PKCS11_KEK_LABEL || "bank-kek",
    pepperKeyLabel: process.env.PKCS11_PEPPER_LABEL || "bank-password-pepper",
    auditCheckpointKeyLabel: process.env.PKCS11_AUDIT_KEY_LABEL || "bank-audit-checkpoint",
  };
  if (new Set([labels.keyEncryptionKeyLabel, labels.pepperKeyLabel, labels.auditCheckpointKeyLabel]).size !== 3) {
    console.error("hsm:init: PKCS11_KEK_LABEL, PKCS11_PEPPER_LABEL and PKCS11_AUDIT_KEY_LABEL must differ");
    return 2;
  }

  let configPath = process.env.SOFTHSM2_CONF;
  if (configPath) {
    configPath = path.resolve(configPath);
    process.stdout.write(`using the SoftHSM2 configuration in SOFTHSM2_CONF: ${configPath}\n`);
  } else {
    configPath = path.join(softHsmDirectory, "softhsm2.conf");
    const written = writeSoftHsmConfig(configPath, path.join(softHsmDirectory, "tokens"));
    process.stdout.write(
      written === "created" ? `wrote ${configPath}\n` : `SoftHSM2 configuration exists, left as is: ${configPath}\n`,
    );
  }

  const result = initialiseSoftHsmToken({ configPath, tokenLabel, pinDirectory: softHsmDirectory, labels });
  process.stdout.write(
    [
      `token "${tokenLabel}": ${result.token === "created" ? "initialised" : "exists"}`,
      `key-encryption key "${labels.keyEncryptionKeyLabel}": ${result.keyEncryptionKey}`,
      `password pepper "${labels.pepperKeyLabel}": ${result.pepperKey}`,
      `audit checkpoint key "${labels.auditCheckpointKeyLabel}": ${result.auditCheckpointKey}`,
      `PINs (mode 0600): ${result.userPinFile} (user), ${result.securityOfficerPinFile} (security officer)`,
      "",
      "To use the token, set (in .env.local or the environment):",
      "  KEY_PROVIDER=pkcs11",
      `  PKCS11_MODULE=${softHsmModulePath}`,
      `  SOFTHSM2_CONF=${configPath}`,
      `  PKCS11_TOKEN_LABEL=${tokenLabel}`,
      `  PKCS11_PIN_FILE=${result.userPinFile}`,
      ...(labels.keyEncryptionKeyLabel === "bank-kek" ? [] : [`  PKCS11_KEK_LABEL=${labels.keyEncryptionKeyLabel}`]),
      ...(labels.pepperKeyLabel === "bank-password-pepper" ? [] : [`  PKCS11_PEPPER_LABEL=${labels.pepperKeyLabel}`]),
      ...(labels.auditCheckpointKeyLabel === "bank-audit-checkpoint" ? [] : [`  PKCS11_AUDIT_KEY_LABEL=${labels.auditCheckpointKeyLabel}`]),
      "Back up the token (npm run hsm:backup) and keep the PIN files safe, apart from that backup: without the",
      "key-encryption key no encrypted field can ever be read again.",
      "",
    ].join("\n"),
  );
  return 0;
}

try {
  process.exitCode = main();
} catch (error) {
  // Our own messages and PKCS#11 return value names only; no PIN ever reaches an error message here.
  console.error(`hsm:init failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
}
