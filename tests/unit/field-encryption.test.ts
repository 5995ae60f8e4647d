import { createHash, createHmac } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, afterEach, describe, expect, it, vi } from "vitest";
import { createFieldCipher, type FieldContext } from "@/lib/crypto/field-cipher";
import {
  addDataKeyVersion,
  createKeyringFile,
  generateKeyring,
  serialiseKeyring,
  type KeyringFile,
} from "@/lib/crypto/keyring-format";
import { createLocalKeyring } from "@/lib/crypto/local-keyring";
import { normaliseEmail } from "@/lib/crypto/normalise";
import { BankError } from "@/lib/errors";
import { writeKeyringWithoutPepper } from "@/tests/helpers/temporary-keyring";


const temporaryRoot = fs.mkdtempSync(path.join(os.tmpdir(), "field-encryption-"));
afterAll(() => fs.rmSync(temporaryRoot, { recursive: true, force: true }));

let fileCounter = 0;
function freshPath(): string {
  fileCounter += 1;
  return path.join(temporaryRoot, `case-${fileCounter}`, "keyring.json");
}

async function keyringAt(keyring: KeyringFile = generateKeyring()): Promise<string> {
  const filePath = freshPath();
  expect(await createKeyringFile(filePath, keyring)).toBe("created");
  return filePath;
}

async function cipherFor(keyring: KeyringFile = generateKeyring()) {
  return createFieldCipher(createLocalKeyring(await keyringAt(keyring)));
}

/** Writes arbitrary text as a keyring file (mode 0600), for the validation tests. */
function rawKeyringFile(text: string, mode = 0o600): string {
  const filePath = freshPath();
  fs.mkdirSync(path.dirname(filePath), { recursive: true, mode: 0o700 });
  fs.writeFileSync(filePath, text, { mode });
  fs.chmodSync(filePath, mode);
  return filePath;
}

const context: FieldContext = { table: "customers", column: "full_name", rowId: "3f1e9c1a-0001" };

async function expectDecryptionFailure(promise: Promise<unknown>): Promise<BankError> {
  const error: unknown = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(BankError);
  const bankError = error as BankError;
  expect(bankError.code).toBe("internal");
  expect(bankError.message).toBe("field decryption failed");
  expect(bankError.cause).toBeDefined();
  return bankError;
}

function flipByteOfBody(ciphertext: string, index: number): string {
  const parts = ciphertext.split(":");
  const body = Buffer.from(parts[4] ?? "", "base64url");
  body[index] = (body[index] ?? 0) ^ 0x01;
  parts[4] = body.toString("base64url");
  return parts.join(":");
}

describe("encryptField / decryptField", () => {
  it.each([
    ["ASCII", "Alice Example"],
    ["empty string", ""],
    ["non-ASCII", "Zoë Ångström — 山田太郎 🏦 Ελληνικά"],
    ["long value", "x".repeat(10_000)],
  ])("round-trips a %s value", async (_label, plaintext) => {
    const cipher = await cipherFor();
    const ciphertext = await cipher.encryptField(plaintext, context);
    expect(await cipher.decryptField(ciphertext, context)).toBe(plaintext);
  });

  it("writes the documented compact format and does not contain the plaintext", async () => {
    const cipher = await cipherFor();
    const ciphertext = await cipher.encryptField("Alice Example", context);
    expect(ciphertext).toMatch(/^v1:pii:1:[A-Za-z0-9_-]{16}:[A-Za-z0-9_-]+$/);
    expect(ciphertext).not.toContain("Alice");
    // 13 bytes of plaintext plus the 16-byte tag.
    expect(Buffer.from(ciphertext.split(":")[4] ?? "", "base64url")).toHaveLength(13 + 16);
  });

  it("labels ciphertexts with the purpose and round-trips every purpose", async () => {
    const cipher = await cipherFor();
    for (const purpose of ["pii", "mfa", "memo"] as const) {
      const ciphertext = await cipher.encryptField("secret", context, purpose);
      expect(ciphertext.startsWith(`v1:${purpose}:1:`)).toBe(true);
      expect(await cipher.decryptField(ciphertext, context, purpose)).toBe("secret");
    }
  });

  it("gives different ciphertexts (and IVs) for the same value each time", async () => {
    const cipher = await cipherFor();
    const first = await cipher.encryptField("same value", context);
    const second = await cipher.encryptField("same value", context);
    expect(first).not.toBe(second);
    expect(first.split(":")[3]).not.toBe(second.split(":")[3]);
  });

  it.each([
    ["row id", { ...context, rowId: "3f1e9c1a-0002" }],
    ["column", { ...context, column: "address" }],
    ["table", { ...context, table: "employees" }],
  ])("rejects a ciphertext moved to another %s", async (_label, otherContext) => {
    const cipher = await cipherFor();
    const ciphertext = await cipher.encryptField("Alice Example", context);
    await expectDecryptionFailure(cipher.decryptField(ciphertext, otherContext));
  });

  it("binds the context unambiguously, so shifting text between table and column is rejected", async () => {
    const cipher = await cipherFor();
    // Joined with ":" these two contexts would be the same bytes ("a:b:c:r"), and the tag would still verify.
    const ciphertext = await cipher.encryptField("Alice Example", { table: "a:b", column: "c", rowId: "r" });
    expect(await cipher.decryptField(ciphertext, { table: "a:b", column: "c", rowId: "r" })).toBe("Alice Example");
    await expectDecryptionFailure(cipher.decryptField(ciphertext, { table: "a", column: "b:c", rowId: "r" }));
  });

  it("rejects a ciphertext decrypted for another purpose, whether or not its label is changed", async () => {
    const cipher = await cipherFor();
    const ciphertext = await cipher.encryptField("123456", context, "mfa");
    const mismatch = await expectDecryptionFailure(cipher.decryptField(ciphertext, context, "pii"));
    // Refused by the label check before any key is used...
    expect((mismatch.cause as Error).message).toContain("purpose does not match");
    // ...and a relabelled value is refused by the tag, because the purpose is part of the AAD.
    await expectDecryptionFailure(cipher.decryptField(ciphertext.replace(/^v1:mfa:/, "v1:pii:"), context, "pii"));
  });

  it("rejects a ciphertext with one flipped bit in the encrypted data, the tag or the IV", async () => {
    const cipher = await cipherFor();
    const ciphertext = await cipher.encryptField("Alice Example", context);
    // First byte of the encrypted data, and last byte (inside the tag).
    await expectDecryptionFailure(cipher.decryptField(flipByteOfBody(ciphertext, 0), context));
    await expectDecryptionFailure(cipher.decryptField(flipByteOfBody(ciphertext, 13 + 15), context));
    const parts = ciphertext.split(":");
    const iv = Buffer.from(parts[3] ?? "", "base64url");
    iv[0] = (iv[0] ?? 0) ^ 0x80;
    parts[3] = iv.toString("base64url");
    await expectDecryptionFailure(cipher.decryptField(parts.join(":"), context));
    // The untouched value still decrypts, so the failures above come from the tampering alone.
    expect(await cipher.decryptField(ciphertext, context)).toBe("Alice Example");
  });

  it("rejects a truncated or malformed ciphertext", async () => {
    const cipher = await cipherFor();
    const ciphertext = await cipher.encryptField("Alice Example", context);
    const [, , , iv = "", body = ""] = ciphertext.split(":");
    const malformed = [
      "",
      "Alice Example",
      ciphertext.slice(0, -1),
      ciphertext.slice(0, -4),
      ciphertext.slice(0, ciphertext.lastIndexOf(":")),
      `${ciphertext}:extra`,
      ciphertext.replace(/^v1:/, "v2:"),
      ciphertext.replace(/^v1:pii:1:/, "v1:pii:01:"),
      ciphertext.replace(/^v1:pii:1:/, "v1:pii:0:"),
      ciphertext.replace(/^v1:pii:1:/, "v1:pii:one:"),
      `v1:pii:1:${iv.slice(0, -2)}:${body}`,
      `v1:pii:1:${iv}:${body.slice(0, 20)}`,
      `v1:pii:1:${iv}:`,
      `v1:pii:1:${iv}:${body}=`,
      `v1:pii:1:${iv}:${body.replace(/.$/, "*")}`,
      ` ${ciphertext}`,
    ];
    for (const candidate of malformed) {
      await expectDecryptionFailure(cipher.decryptField(candidate, context));
    }
  });

  it("rejects a non-canonical encoding even though it decodes to the same bytes", async () => {
    const cipher = await cipherFor();
    const ciphertext = await cipher.encryptField("Alice Example", context);
    // 13 + 16 = 29 bytes make 39 base64url characters, whose last character carries 2 unused bits.
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const lastIndex = alphabet.indexOf(ciphertext.slice(-1));
    const variant = ciphertext.slice(0, -1) + alphabet.charAt(lastIndex ^ 1);
    expect(Buffer.from(variant.split(":")[4] ?? "", "base64url")).toEqual(
      Buffer.from(ciphertext.split(":")[4] ?? "", "base64url"),
    );
    await expectDecryptionFailure(cipher.decryptField(variant, context));
  });

  it("rejects an unknown key version", async () => {
    const cipher = await cipherFor();
    const ciphertext = await cipher.encryptField("Alice Example", context);
    const relabelled = ciphertext.replace(/^v1:pii:1:/, "v1:pii:7:");
    const error = await expectDecryptionFailure(cipher.decryptField(relabelled, context));
    expect(String((error.cause as Error).message)).toContain("version 7");
  });

  it("refuses to encrypt with an empty context part, and never returns the input", async () => {
    const cipher = await cipherFor();
    for (const badContext of [
      { ...context, rowId: "" },
      { ...context, column: "" },
      { ...context, table: "" },
    ]) {
      await expect(cipher.encryptField("Alice Example", badContext)).rejects.toMatchObject({
        code: "internal",
        message: "field encryption failed",
      });
    }
  });

  it("refuses to encrypt a string with a lone surrogate instead of altering it", async () => {
    const cipher = await cipherFor();
    await expect(cipher.encryptField("broken \ud800 text", context)).rejects.toBeInstanceOf(BankError);
    // A well-formed surrogate pair (an emoji) is fine.
    expect(await cipher.decryptField(await cipher.encryptField("ok 😀", context), context)).toBe("ok 😀");
  });
});

describe("key rotation", () => {
  it("encrypts with the new current version while old ciphertexts still decrypt", async () => {
    const original = generateKeyring();
    const before = createFieldCipher(createLocalKeyring(await keyringAt(original)));
    const oldCiphertext = await before.encryptField("written before rotation", context);
    expect(oldCiphertext.startsWith("v1:pii:1:")).toBe(true);

    const rotated = addDataKeyVersion(original, "pii");
    expect(rotated.dataKeys.pii.current).toBe(2);
    expect(rotated.dataKeys.pii.versions["1"]).toBe(original.dataKeys.pii.versions["1"]);
    const after = createFieldCipher(createLocalKeyring(await keyringAt(rotated)));

    const newCiphertext = await after.encryptField("written after rotation", context);
    expect(newCiphertext.startsWith("v1:pii:2:")).toBe(true);
    expect(await after.decryptField(newCiphertext, context)).toBe("written after rotation");
    expect(await after.decryptField(oldCiphertext, context)).toBe("written before rotation");
    // Other purposes are not rotated along with pii.
    expect((await after.encryptField("x", context, "mfa")).startsWith("v1:mfa:1:")).toBe(true);
    // The old keyring cannot read the new version.
    await expectDecryptionFailure(before.decryptField(newCiphertext, context));
  });

  it("rejects a ciphertext whose version label was swapped to another existing version", async () => {
    const cipher = await cipherFor(addDataKeyVersion(generateKeyring(), "pii"));
    const ciphertext = await cipher.encryptField("Alice Example", context);
    expect(ciphertext.startsWith("v1:pii:2:")).toBe(true);
    await expectDecryptionFailure(cipher.decryptField(ciphertext.replace(/^v1:pii:2:/, "v1:pii:1:"), context));
  });
});

describe("local keyring file", () => {
  it("is created with mode 0600 in a 0700 directory and never overwritten", async () => {
    const filePath = freshPath();
    expect(await createKeyringFile(filePath)).toBe("created");
    expect(fs.statSync(filePath).mode & 0o777).toBe(0o600);
    expect(fs.statSync(path.dirname(filePath)).mode & 0o777).toBe(0o700);
    const contents = fs.readFileSync(filePath, "utf8");
    expect(await createKeyringFile(filePath)).toBe("exists");
    expect(fs.readFileSync(filePath, "utf8")).toBe(contents);
    // No temporary files are left behind.
    expect(fs.readdirSync(path.dirname(filePath))).toEqual(["keyring.json"]);
  });

  it.each([0o644, 0o640, 0o604, 0o660])("refuses a keyring file with mode 0%s", async (mode) => {
    const filePath = await keyringAt();
    fs.chmodSync(filePath, mode);
    const cipher = createFieldCipher(createLocalKeyring(filePath));
    const failure = cipher.encryptField("Alice Example", context);
    await expect(failure).rejects.toBeInstanceOf(BankError);
    const cause = await failure.catch((error: unknown) => (error as BankError).cause);
    expect(cause).toBeInstanceOf(BankError);
    expect((cause as BankError).message).toContain("accessible by group or others");
    expect((cause as BankError).message).toContain(`mode 0${mode.toString(8)}`);
  });

  it("accepts an owner-only file (0400) and reads it only once", async () => {
    const filePath = await keyringAt();
    fs.chmodSync(filePath, 0o400);
    const provider = createLocalKeyring(filePath);
    const first = await provider.currentDataKey("pii");
    // Once loaded, the keys are cached: removing the file does not affect the running provider.
    fs.rmSync(filePath);
    const second = await provider.currentDataKey("pii");
    expect(second.key).toBe(first.key);
    expect(second.version).toBe(1);
  });

  it("reports a missing keyring file as an error", async () => {
    const provider = createLocalKeyring(path.join(temporaryRoot, "does-not-exist.json"));
    await expect(provider.currentDataKey("pii")).rejects.toThrow(/cannot be opened/);
  });

  it("rejects an unknown version from the provider", async () => {
    const provider = createLocalKeyring(await keyringAt());
    await expect(provider.dataKey("pii", 2)).rejects.toThrow(/no pii data key version 2/);
  });

  it("rejects a key that is not 32 bytes, without quoting it in the error", async () => {
    const keyring = generateKeyring();
    const shortKey = Buffer.alloc(31, 7).toString("base64");
    keyring.dataKeys.memo.versions["1"] = shortKey;
    const filePath = rawKeyringFile(JSON.stringify(keyring));
    const failure = createLocalKeyring(filePath).currentDataKey("pii");
    await expect(failure).rejects.toThrow(/dataKeys\.memo\.versions\.1: must be exactly 32 bytes/);
    await expect(failure).rejects.not.toThrow(shortKey);
  });

  const otherKey = Buffer.alloc(32, 9).toString("base64");
  it.each<[string, (keyring: KeyringFile) => unknown]>([
    [
      "a current version without a key",
      (keyring) => ({ ...keyring, dataKeys: { ...keyring.dataKeys, pii: { ...keyring.dataKeys.pii, current: 2 } } }),
    ],
    [
      "a missing purpose",
      (keyring) => ({ ...keyring, dataKeys: { pii: keyring.dataKeys.pii, mfa: keyring.dataKeys.mfa } }),
    ],
    ["a missing blind-index key", (keyring) => ({ ...keyring, blindIndexKeys: {} })],
    [
      "an unknown field",
      (keyring) => ({
        ...keyring,
        dataKeys: { ...keyring.dataKeys, pii: { ...keyring.dataKeys.pii, verisons: {} } },
      }),
    ],
    ["another format version", (keyring) => ({ ...keyring, format: 2 })],
    [
      "a version label with a leading zero",
      (keyring) => ({
        ...keyring,
        dataKeys: {
          ...keyring.dataKeys,
          pii: { current: 1, versions: { ...keyring.dataKeys.pii.versions, "01": otherKey } },
        },
      }),
    ],
    [
      "a key reused across purposes",
      (keyring) => ({ ...keyring, blindIndexKeys: { email: keyring.dataKeys.pii.versions["1"] } }),
    ],
    ["a pepper equal to the blind-index key", (keyring) => ({ ...keyring, passwordPepper: keyring.blindIndexKeys.email.versions["1"] })],
    ["a pepper equal to a data key", (keyring) => ({ ...keyring, passwordPepper: keyring.dataKeys.mfa.versions["1"] })],
    ["a pepper that is not 32 bytes", (keyring) => ({ ...keyring, passwordPepper: Buffer.alloc(16, 3).toString("base64") })],
    ["a pepper that is not a string", (keyring) => ({ ...keyring, passwordPepper: { "1": keyring.passwordPepper } })],
    [
      "a character outside base64 (in the older single-key shape of a blind-index key)",
      (keyring) => ({ ...keyring, blindIndexKeys: { email: String(keyring.blindIndexKeys.email.versions["1"]).replace(/^./, "*") } }),
    ],
  ])("rejects a keyring with %s", async (_label, change) => {
    const filePath = rawKeyringFile(JSON.stringify(change(generateKeyring())));
    await expect(createLocalKeyring(filePath).blindIndexKey("email")).rejects.toThrow(/is invalid/);
  });

  it("rejects a file that is not JSON without echoing its contents", async () => {
    const secretLooking = "c2VjcmV0LWtleS1tYXRlcmlhbC10aGF0LW11c3Qtbm90LWxlYWs=";
    const filePath = rawKeyringFile(`{ "format": 1, "blindIndexKeys": { "email": ${secretLooking} } }`);
    const error: unknown = await createLocalKeyring(filePath)
      .blindIndexKey("email")
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(BankError);
    expect((error as BankError).message).toContain("is not valid JSON");
    expect((error as BankError).message).not.toContain("c2VjcmV0");
    expect((error as BankError).cause).toBeUndefined();
  });

  it("serialises a keyring that parses back to the same keys", () => {
    const keyring = generateKeyring();
    expect(JSON.parse(serialiseKeyring(keyring))).toEqual(keyring);
    // Every generated key is distinct, the pepper included.
    const keys = [
      ...Object.values(keyring.dataKeys).flatMap((ring) => Object.values(ring.versions)),
      ...Object.values(keyring.blindIndexKeys.email.versions),
      keyring.passwordPepper,
    ];
    expect(keys.every((key) => Buffer.from(key, "base64").length === 32)).toBe(true);
    expect(new Set(keys).size).toBe(5);
  });

  it("refuses a keyring without a password pepper, naming the initialiser that adds one", async () => {
    const filePath = freshPath();
    writeKeyringWithoutPepper(filePath);
    const provider = createLocalKeyring(filePath);
    // The whole keyring is refused, not only the pepper: a provider half-loaded would hide the problem until the
    // first sign-in.
    for (const attempt of [provider.pepperPassword("a password"), provider.currentDataKey("pii"), provider.blindIndexKey("email")]) {
      const error: unknown = await attempt.catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(BankError);
      expect((error as BankError).message).toContain("has no password pepper");
      expect((error as BankError).message).toContain(`npx tsx scripts/init-keyring.ts ${filePath}`);
    }
  });
});

describe("password pepper of the local keyring", () => {
  it("is HMAC-SHA256 of the UTF-8 password under the file's pepper key, 32 bytes", async () => {
    const keyring = generateKeyring();
    const provider = createLocalKeyring(await keyringAt(keyring));
    const password = "Zoë's pass phrase 🏦";
    const peppered = await provider.pepperPassword(password);
    expect(peppered).toHaveLength(32);
    const expected = createHmac("sha256", Buffer.from(keyring.passwordPepper, "base64")).update(password, "utf8").digest();
    expect(peppered.equals(expected)).toBe(true);
    expect((await provider.pepperPassword(password)).equals(expected)).toBe(true);
    expect((await provider.pepperPassword(`${password} `)).equals(expected)).toBe(false);
  });

  it("differs between keyrings and does not use the blind-index key", async () => {
    const keyring = generateKeyring();
    const first = createLocalKeyring(await keyringAt(keyring));
    const second = createLocalKeyring(await keyringAt());
    const password = "alice@example.com";
    const peppered = await first.pepperPassword(password);
    expect(peppered.equals(await second.pepperPassword(password))).toBe(false);
    const underBlindIndexKey = createHmac("sha256", Buffer.from(String(keyring.blindIndexKeys.email.versions["1"]), "base64")).update(password, "utf8").digest();
    expect(peppered.equals(underBlindIndexKey)).toBe(false);
  });

  it("refuses a password that is not a string", async () => {
    const provider = createLocalKeyring(await keyringAt());
    await expect(provider.pepperPassword(undefined as unknown as string)).rejects.toThrow(TypeError);
  });
});

describe("blind index", () => {
  it("is deterministic, keyed and lower-case hex, prefixed with its key version", async () => {
    const cipher = await cipherFor();
    const first = await cipher.blindIndex("email", "alice@example.com");
    expect(first).toMatch(/^v1:[0-9a-f]{64}$/);
    expect(await cipher.blindIndex("email", "alice@example.com")).toBe(first);
    // It is not a plain (unkeyed) hash that anyone holding the database could recompute.
    expect(first).not.toBe(`v1:${createHash("sha256").update("alice@example.com").digest("hex")}`);
    expect(await cipher.blindIndex("email", "bob@example.com")).not.toBe(first);
  });

  it("is the same for differently cased and spaced forms of one address", async () => {
    const cipher = await cipherFor();
    const canonical = await cipher.blindIndex("email", "alice@example.com");
    for (const variant of ["  Alice@Example.COM ", "ALICE@EXAMPLE.COM", "\talice@example.com\n", "ａｌｉｃｅ@ｅｘａｍｐｌｅ.ｃｏｍ"]) {
      expect(await cipher.blindIndex("email", variant)).toBe(canonical);
      expect(await cipher.blindIndex("email", normaliseEmail(variant))).toBe(canonical);
    }
  });

  it("differs between keyrings (keys) and rejects an unknown purpose", async () => {
    const first = await cipherFor();
    const second = await cipherFor();
    expect(await first.blindIndex("email", "alice@example.com")).not.toBe(
      await second.blindIndex("email", "alice@example.com"),
    );
    const unknownPurpose = "phone" as unknown as "email";
    await expect(first.blindIndex(unknownPurpose, "alice@example.com")).rejects.toMatchObject({
      code: "internal",
      message: "blind index computation failed",
    });
  });

  it("does not use the data-encryption key of any purpose", async () => {
    // Same data keys, different blind-index key: the index must change, so it depends on the blind-index key.
    const keyring = generateKeyring();
    const other = { ...keyring, blindIndexKeys: { email: generateKeyring().blindIndexKeys.email } };
    const first = await cipherFor(keyring);
    const second = await cipherFor(other);
    expect(await first.blindIndex("email", "alice@example.com")).not.toBe(
      await second.blindIndex("email", "alice@example.com"),
    );
  });
});

describe("normaliseEmail", () => {
  it("trims, applies NFKC and lower-cases", () => {
    expect(normaliseEmail("  Alice@Example.COM\n")).toBe("alice@example.com");
    expect(normaliseEmail("ＡＬＩＣＥ@ｅｘａｍｐｌｅ.ｃｏｍ")).toBe("alice@example.com");
    expect(normaliseEmail("\u3000bob@example.com\u3000")).toBe("bob@example.com");
  });

  it("is idempotent", () => {
    for (const value of ["  Alice@Example.COM ", "İstanbul@Example.com", "ﬁ@example.com", "ΣΟΦΙΑ@example.gr"]) {
      const once = normaliseEmail(value);
      expect(normaliseEmail(once)).toBe(once);
    }
  });
});

describe("lib/crypto entry point", () => {
  afterEach(() => {
    vi.unstubAllEnvs();
    vi.resetModules();
  });

  it("uses the local keyring named by the configuration", async () => {
    const filePath = await keyringAt();
    vi.stubEnv("AUTH_SECRET", "a".repeat(40));
    vi.stubEnv("KEY_PROVIDER", "local");
    vi.stubEnv("KEYRING_PATH", filePath);
    vi.resetModules();
    const crypto = await import("@/lib/crypto");
    const ciphertext = await crypto.encryptField("Alice Example", context);
    expect(ciphertext.startsWith("v1:pii:1:")).toBe(true);
    expect(await crypto.decryptField(ciphertext, context)).toBe("Alice Example");
    // The entry point reads the same file: a cipher built directly on it decrypts the value too.
    const direct = createFieldCipher(createLocalKeyring(filePath));
    expect(await direct.decryptField(ciphertext, context)).toBe("Alice Example");
    expect(await crypto.blindIndex("email", " Alice@Example.com")).toBe(
      await crypto.blindIndex("email", crypto.normaliseEmail("alice@example.com")),
    );
  });

  it("peppers passwords with the configured keyring's pepper", async () => {
    const keyring = generateKeyring();
    const filePath = await keyringAt(keyring);
    vi.stubEnv("AUTH_SECRET", "a".repeat(40));
    vi.stubEnv("KEY_PROVIDER", "local");
    vi.stubEnv("KEYRING_PATH", filePath);
    vi.resetModules();
    const crypto = await import("@/lib/crypto");
    const peppered = await crypto.pepperPassword("a password");
    const expected = createHmac("sha256", Buffer.from(keyring.passwordPepper, "base64")).update("a password", "utf8").digest();
    expect(peppered.equals(expected)).toBe(true);
  });

  it("answers 'unavailable' when the configured PKCS#11 token cannot be reached, instead of falling back", async () => {
    vi.stubEnv("AUTH_SECRET", "a".repeat(40));
    vi.stubEnv("KEY_PROVIDER", "pkcs11");
    // A library that does not exist: the provider fails before it touches any database or key.
    vi.stubEnv("PKCS11_MODULE", path.join(os.tmpdir(), "no-such-pkcs11-module.so"));
    vi.stubEnv("PKCS11_TOKEN_LABEL", "bank");
    vi.stubEnv("PKCS11_PIN", "1234");
    vi.resetModules();
    const crypto = await import("@/lib/crypto");
    await expect(crypto.encryptField("Alice Example", context)).rejects.toMatchObject({
      code: "unavailable",
      message: expect.stringContaining("PKCS#11 token"),
    });
  });
});
