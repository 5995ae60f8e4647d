/**
 * The field cipher's benchmark (issue 7): field encryptions and decryptions per second through the app's own
 * cipher, next to node:crypto's raw AES-256-GCM on the same value in the same run, and, when a PKCS#11 module
 * is configured (the same variables as the app: PKCS11_MODULE, SOFTHSM2_CONF, PKCS11_TOKEN_LABEL,
 * PKCS11_PIN or PKCS11_PIN_FILE, PKCS11_KEK_LABEL, PKCS11_PEPPER_LABEL; `npm run hsm:init` prints them for a
 * local SoftHSM2 token), the HSM's data-key unwrap rate and the pepper's HMAC rate.
 *
 *   npm run bench:crypto [-- --seconds N]
 *
 * Each figure is a single-threaded loop for N seconds (default 2) on a 64-byte value, the size of an email
 * address or a street line. The ratios say what the envelope (key lookup, AAD, parsing and encoding) costs
 * over the bare cipher, and why data keys are unwrapped once and cached rather than fetched from the HSM
 * for every field.
 */
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

const argumentsGiven = process.argv.slice(2);
const secondsIndex = argumentsGiven.indexOf("--seconds");
const runSeconds = secondsIndex >= 0 ? Number(argumentsGiven[secondsIndex + 1]) : 2;

interface Figure {
  label: string;
  perSecond: number;
}

async function measure(label: string, operation: () => unknown): Promise<Figure> {
  // A short warm-up so that the JIT and the key caches are settled before timing.
  const warmUpUntil = performance.now() + 200;
  while (performance.now() < warmUpUntil) await operation();
  let count = 0;
  const started = performance.now();
  const deadline = started + runSeconds * 1000;
  while (performance.now() < deadline) {
    for (let batch = 0; batch < 64; batch += 1) await operation();
    count += 64;
  }
  const figure = { label, perSecond: count / ((performance.now() - started) / 1000) };
  console.log(`${label}: ${figure.perSecond.toFixed(0)}/s`);
  return figure;
}

async function main(): Promise<void> {
  const temporaryRoot = fs.mkdtempSync(path.join(os.tmpdir(), "bench-crypto-"));
  try {
    const keyringPath = path.join(temporaryRoot, "keyring.json");
    const { createKeyringFile } = await import("@/lib/crypto/keyring-format");
    await createKeyringFile(keyringPath);
    const { createLocalKeyring } = await import("@/lib/crypto/local-keyring");
    const { createFieldCipher } = await import("@/lib/crypto/field-cipher");
    const cipher = createFieldCipher(createLocalKeyring(keyringPath));

    const value = "a".repeat(40) + "@example-customer-domain.com"; // 68 characters, near the 64 bytes named above
    const context = { table: "users", column: "email", rowId: crypto.randomUUID() };
    const stored = await cipher.encryptField(value, context);

    const rawKey = crypto.randomBytes(32);
    const rawEncrypt = () => {
      const iv = crypto.randomBytes(12);
      const encryptor = crypto.createCipheriv("aes-256-gcm", rawKey, iv);
      return Buffer.concat([encryptor.update(value, "utf8"), encryptor.final(), encryptor.getAuthTag()]);
    };
    const rawIv = crypto.randomBytes(12);
    const rawSealed = (() => {
      const encryptor = crypto.createCipheriv("aes-256-gcm", rawKey, rawIv);
      return { body: Buffer.concat([encryptor.update(value, "utf8"), encryptor.final()]), tag: encryptor.getAuthTag() };
    })();
    const rawDecrypt = () => {
      const decryptor = crypto.createDecipheriv("aes-256-gcm", rawKey, rawIv);
      decryptor.setAuthTag(rawSealed.tag);
      return Buffer.concat([decryptor.update(rawSealed.body), decryptor.final()]);
    };
    if (rawDecrypt().toString("utf8") !== value) throw new Error("raw AES-GCM round trip failed");

    const rawEncryption = await measure("node:crypto AES-256-GCM encrypt (raw)", rawEncrypt);
    const rawDecryption = await measure("node:crypto AES-256-GCM decrypt (raw)", rawDecrypt);
    const fieldEncryption = await measure("encryptField (local keyring)", () => cipher.encryptField(value, context));
    const fieldDecryption = await measure("decryptField (local keyring)", () => cipher.decryptField(stored, context));
    const blindIndex = await measure("blindIndex (HMAC-SHA256)", () => cipher.blindIndex("email", value));

    const rows: { figure: Figure; baseline: Figure | null }[] = [
      { figure: rawEncryption, baseline: null },
      { figure: rawDecryption, baseline: null },
      { figure: fieldEncryption, baseline: rawEncryption },
      { figure: fieldDecryption, baseline: rawDecryption },
      { figure: blindIndex, baseline: null },
    ];

    const hsmRows = await measureHsm(value);
    for (const row of hsmRows) rows.push({ figure: row, baseline: rawDecryption });

    const cpus = os.cpus();
    console.log("");
    console.log(`Machine: ${cpus.length} × ${cpus[0]?.model ?? "unknown CPU"}, Node ${process.version}; ${runSeconds}-second single-threaded loops.`);
    console.log("");
    console.log("| What | Per second | × node:crypto raw |");
    console.log("|---|---:|---:|");
    for (const { figure, baseline } of rows) {
      console.log(`| ${figure.label} | ${figure.perSecond.toFixed(0)} | ${baseline ? (figure.perSecond / baseline.perSecond).toFixed(2) : "–"} |`);
    }
    if (hsmRows.length === 0) console.log("\nNo PKCS#11 module configured (PKCS11_MODULE): HSM rows left out.");
  } finally {
    fs.rmSync(temporaryRoot, { recursive: true, force: true });
  }
}

/**
 * The HSM's data-key unwrap rate and the pepper's HMAC rate, through the same helpers the PKCS#11 provider uses
 * (lib/crypto/pkcs11-token.ts), on the configured token. The unwrap row is why data keys are cached: every
 * field through the HSM would run at this rate instead of the field cipher's.
 */
async function measureHsm(value: string): Promise<Figure[]> {
  const modulePath = process.env.PKCS11_MODULE;
  const tokenLabel = process.env.PKCS11_TOKEN_LABEL;
  if (!modulePath || !tokenLabel) return [];
  const pinFile = process.env.PKCS11_PIN_FILE;
  const pin = pinFile ? fs.readFileSync(pinFile, "utf8").replace(/\r?\n$/, "") : (process.env.PKCS11_PIN ?? "");
  const token = await import("@/lib/crypto/pkcs11-token");
  const { module: library } = token.loadedModule(modulePath);
  const session = token.openUserSession(token.findSlotByLabel(library, tokenLabel), pin);
  try {
    const wrappingKeyLabel = process.env.PKCS11_KEK_LABEL || "bank-kek";
    const keyEncryptionKey = token.checkedSecretKey(session, wrappingKeyLabel, "aes");
    const pepperKey = token.checkedSecretKey(session, process.env.PKCS11_PEPPER_LABEL || "bank-password-pepper", "generic-secret");
    const binding = { purpose: "pii", version: 1, wrappingKeyLabel };
    const wrapped = token.wrapDataKey(session, keyEncryptionKey, crypto.randomBytes(32), binding);
    const message = Buffer.from(value, "utf8");
    return [
      await measure("HSM data-key unwrap (C_Decrypt, AES-256-GCM in the token)", () =>
        token.unwrapDataKey(session, keyEncryptionKey, wrapped, binding).fill(0),
      ),
      await measure("HSM password pepper (C_Sign, HMAC-SHA256 in the token)", () => token.signWithPepper(session, pepperKey, message)),
    ];
  } finally {
    token.closeSessionQuietly(session);
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
