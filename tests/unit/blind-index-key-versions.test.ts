/**
 * Versioned blind-index keys in the local keyring: the older single-key shape is still read (as version 1)
 * and is written back in the versioned shape with the same key bytes; rotation adds versions; the field
 * cipher stores `v<version>:<hex>` and looks up under every live version; other processes pick a rotation up
 * within the refresh interval.
 */
import { createHmac } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { blindIndexVersionOf, blindIndexVersionPrefix, createFieldCipher } from "@/lib/crypto/field-cipher";
import {
  addBlindIndexKeyVersion,
  createKeyringFile,
  generateKeyring,
  parseKeyringText,
  serialiseKeyring,
  type KeyringFile,
} from "@/lib/crypto/keyring-format";
import { addPasswordPepperIfMissing } from "@/lib/crypto/keyring-upgrade";
import { createLocalKeyring } from "@/lib/crypto/local-keyring";

const temporaryRoot = fs.mkdtempSync(path.join(os.tmpdir(), "blind-index-versions-"));
afterAll(() => fs.rmSync(temporaryRoot, { recursive: true, force: true }));

let fileCounter = 0;
function newPath(): string {
  fileCounter += 1;
  const directory = path.join(temporaryRoot, `case-${fileCounter}`);
  fs.mkdirSync(directory, { mode: 0o700 });
  return path.join(directory, "keyring.json");
}

/** A keyring file as written before blind-index keys had versions: `"email": "<base64>"`. */
function writeSingleKeyShape(filePath: string, options: { withPepper: boolean }): { email: string; keyring: KeyringFile } {
  const keyring = generateKeyring();
  const email = String(keyring.blindIndexKeys.email.versions["1"]);
  const old: Record<string, unknown> = { format: 1, dataKeys: keyring.dataKeys, blindIndexKeys: { email } };
  // With the pepper comes the audit checkpoint key: both are keys a provider today requires, so a file with
  // them differs from a current one only in the blind-index shape this file is about.
  if (options.withPepper) {
    old.passwordPepper = keyring.passwordPepper;
    old.auditCheckpointKey = keyring.auditCheckpointKey;
  }
  fs.writeFileSync(filePath, `${JSON.stringify(old, null, 2)}\n`, { mode: 0o600, flag: "wx" });
  return { email, keyring };
}

function hmacHex(encodedKey: string, value: string): string {
  return createHmac("sha256", Buffer.from(encodedKey, "base64")).update(value, "utf8").digest("hex");
}

function manualClock(): { now: () => number; advanceSeconds: (seconds: number) => void } {
  let milliseconds = 1_000_000;
  return { now: () => milliseconds, advanceSeconds: (seconds) => (milliseconds += seconds * 1000) };
}

describe("the keyring format", () => {
  it("reads the older single-key shape as version 1, current, with the same key", () => {
    const filePath = newPath();
    const { email } = writeSingleKeyShape(filePath, { withPepper: true });
    const parsed = parseKeyringText(fs.readFileSync(filePath, "utf8"), filePath);
    expect(parsed.blindIndexKeys.email).toEqual({ current: 1, versions: { "1": email } });
  });

  it("still refuses a malformed key, or a key repeated elsewhere, in the older shape", () => {
    const keyring = generateKeyring();
    const repeated = { ...keyring, blindIndexKeys: { email: keyring.dataKeys.pii.versions["1"] } };
    expect(() => parseKeyringText(JSON.stringify(repeated), "repeated")).toThrow(/the same key appears more than once/);
    const tooShort = { ...keyring, blindIndexKeys: { email: Buffer.alloc(16, 7).toString("base64") } };
    expect(() => parseKeyringText(JSON.stringify(tooShort), "short")).toThrow(/blindIndexKeys\.email\.versions\.1/);
  });

  it("adds blind-index versions: max+1 becomes current and every older version is kept", () => {
    const once = addBlindIndexKeyVersion(generateKeyring(), "email");
    const twice = addBlindIndexKeyVersion(once, "email");
    expect(twice.blindIndexKeys.email.current).toBe(3);
    expect(Object.keys(twice.blindIndexKeys.email.versions).sort()).toEqual(["1", "2", "3"]);
    expect(twice.blindIndexKeys.email.versions["1"]).toBe(once.blindIndexKeys.email.versions["1"]);
    expect(twice.blindIndexKeys.email.versions["2"]).toBe(once.blindIndexKeys.email.versions["2"]);
    expect(new Set(Object.values(twice.blindIndexKeys.email.versions)).size).toBe(3);
    expect(twice.dataKeys).toEqual(once.dataKeys);
  });

  it("refuses a current version that has no key", () => {
    const keyring = generateKeyring();
    const broken = { ...keyring, blindIndexKeys: { email: { ...keyring.blindIndexKeys.email, current: 2 } } };
    expect(() => serialiseKeyring(broken)).toThrow();
  });
});

describe("upgrading the older shape on disk", () => {
  it("a rotation writes the versioned shape, keeping version 1's bytes, and indexes made before still match", async () => {
    const filePath = newPath();
    const { email } = writeSingleKeyShape(filePath, { withPepper: true });
    const provider = createLocalKeyring(filePath);
    const before = await createFieldCipher(provider).blindIndex("email", "alice@example.com");
    expect(before).toBe(`v1:${hmacHex(email, "alice@example.com")}`);

    expect(await provider.rotateBlindIndexKey("email")).toBe(2);
    const onDisk = JSON.parse(fs.readFileSync(filePath, "utf8")) as { blindIndexKeys: { email: unknown } };
    expect(onDisk.blindIndexKeys.email).toMatchObject({ current: 2, versions: { "1": email } });
    expect(fs.statSync(filePath).mode & 0o777).toBe(0o600);

    const lookup = await createFieldCipher(provider).blindIndexUnderEveryVersion("email", "Alice@Example.com");
    expect(lookup.map((entry) => entry.version)).toEqual([2, 1]);
    expect(lookup[1]?.index).toBe(before);
  });

  it("adding the password pepper to a keyring of the oldest shape also stores the blind-index key versioned", async () => {
    const filePath = newPath();
    const { email } = writeSingleKeyShape(filePath, { withPepper: false });
    expect(await addPasswordPepperIfMissing(filePath)).toBe("pepper-added");
    const onDisk = JSON.parse(fs.readFileSync(filePath, "utf8")) as { blindIndexKeys: { email: unknown } };
    expect(onDisk.blindIndexKeys.email).toEqual({ current: 1, versions: { "1": email } });
  });
});

describe("blind indexes under several versions", () => {
  it("stores v<current>:<hex>, and looks up under every live version, current first", async () => {
    const filePath = newPath();
    expect(await createKeyringFile(filePath)).toBe("created");
    const provider = createLocalKeyring(filePath);
    const cipher = createFieldCipher(provider);
    const underFirst = await cipher.blindIndex("email", "bob@example.com");
    expect(blindIndexVersionOf(underFirst)).toBe(1);
    expect(underFirst.startsWith(blindIndexVersionPrefix(1))).toBe(true);

    await provider.rotateBlindIndexKey("email");
    await provider.rotateBlindIndexKey("email");
    const underThird = await cipher.blindIndex("email", "bob@example.com");
    expect(blindIndexVersionOf(underThird)).toBe(3);
    expect(underThird.slice(3)).not.toBe(underFirst.slice(3));
    const every = await cipher.blindIndexUnderEveryVersion("email", " BOB@example.com ");
    expect(every.map((entry) => entry.version)).toEqual([3, 2, 1]);
    expect(every[0]?.index).toBe(underThird);
    expect(every[2]?.index).toBe(underFirst);
    // The current key is what blindIndexKey hands out, and the versions are distinct keys.
    const keys = await provider.blindIndexKeys("email");
    expect(keys[0].key.equals(await provider.blindIndexKey("email"))).toBe(true);
    expect(keys[1]?.key.equals(keys[2]?.key ?? keys[0].key)).toBe(false);
  });

  it("does not take a malformed or unversioned stored value for a version", () => {
    const digest = "a".repeat(64);
    expect(blindIndexVersionOf(`v12:${digest}`)).toBe(12);
    expect(blindIndexVersionOf(digest)).toBeUndefined();
    expect(blindIndexVersionOf(`v0:${digest}`)).toBeUndefined();
    expect(blindIndexVersionOf(`v1:${digest.toUpperCase()}`)).toBeUndefined();
    expect(blindIndexVersionOf(`v1:${digest}0`)).toBeUndefined();
  });

  it("another process picks a rotation up once its refresh interval has passed, not before", async () => {
    const filePath = newPath();
    expect(await createKeyringFile(filePath)).toBe("created");
    const clock = manualClock();
    const running = createLocalKeyring(filePath, { currentVersionRefreshSeconds: 30, now: clock.now });
    const operator = createLocalKeyring(filePath);
    const runningCipher = createFieldCipher(running);
    expect(await runningCipher.blindIndex("email", "carol@example.com")).toMatch(/^v1:/);

    expect(await operator.rotateBlindIndexKey("email")).toBe(2);
    clock.advanceSeconds(29);
    expect(await runningCipher.blindIndex("email", "carol@example.com")).toMatch(/^v1:/);
    expect((await running.blindIndexKeys("email")).length).toBe(1);
    clock.advanceSeconds(1);
    expect(await runningCipher.blindIndex("email", "carol@example.com")).toBe(
      await createFieldCipher(operator).blindIndex("email", "carol@example.com"),
    );
    expect((await running.blindIndexKeys("email")).map((entry) => entry.version)).toEqual([2, 1]);
  });

  it("refuses to rotate an unknown blind-index purpose", async () => {
    const filePath = newPath();
    expect(await createKeyringFile(filePath)).toBe("created");
    const before = fs.readFileSync(filePath, "utf8");
    await expect(createLocalKeyring(filePath).rotateBlindIndexKey("phone" as unknown as "email")).rejects.toThrow(
      /unknown blind-index purpose/,
    );
    expect(fs.readFileSync(filePath, "utf8")).toBe(before);
  });
});
