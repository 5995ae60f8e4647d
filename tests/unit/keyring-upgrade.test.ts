import { execFile } from "node:child_process";
import { createHmac } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { createFieldCipher } from "@/lib/crypto/field-cipher";
import { createKeyringFile, parseKeyringText, type KeyringFileWithoutPepper } from "@/lib/crypto/keyring-format";
import { addPasswordPepperIfMissing } from "@/lib/crypto/keyring-upgrade";
import { createLocalKeyring } from "@/lib/crypto/local-keyring";
import { writeKeyringWithoutPepper } from "@/tests/helpers/temporary-keyring";

const runFile = promisify(execFile);
const repositoryRoot = path.resolve(import.meta.dirname, "../..");
const temporaryRoot = fs.mkdtempSync(path.join(os.tmpdir(), "keyring-upgrade-"));
afterAll(() => fs.rmSync(temporaryRoot, { recursive: true, force: true }));

let fileCounter = 0;
function freshPath(): string {
  fileCounter += 1;
  return path.join(temporaryRoot, `case-${fileCounter}`, "keyring.json");
}

function fileState(filePath: string) {
  const status = fs.statSync(filePath);
  return { text: fs.readFileSync(filePath, "utf8"), inode: status.ino, modifiedAt: status.mtimeMs, mode: status.mode & 0o777 };
}

/** Every key of the old keyring, as the strings (and so the bytes) the file holds. */
function keysOf(keyring: Pick<KeyringFileWithoutPepper, "dataKeys" | "blindIndexKeys">) {
  return { dataKeys: keyring.dataKeys, blindIndexKeys: keyring.blindIndexKeys };
}

function expectOnlyTheKeyringIn(directory: string): void {
  // No temporary file and no lock file is left behind.
  expect(fs.readdirSync(directory)).toEqual(["keyring.json"]);
}

describe("adding the audit checkpoint key to a keyring made before the audit chain", () => {
  it("adds a fresh checkpoint key, keeps the pepper and every other key, and the provider then signs with it", async () => {
    const filePath = freshPath();
    expect(await createKeyringFile(filePath)).toBe("created");
    const complete = parseKeyringText(fs.readFileSync(filePath, "utf8"), filePath);
    const { auditCheckpointKey: dropped, ...withoutAuditKey } = complete;
    fs.writeFileSync(filePath, JSON.stringify(withoutAuditKey));
    await expect(createLocalKeyring(filePath).signAuditCheckpoint(Buffer.from("m"))).rejects.toThrow(
      /no audit checkpoint key .*scripts\/init-keyring\.ts/,
    );

    expect(await addPasswordPepperIfMissing(filePath)).toBe("audit-checkpoint-key-added");
    const upgraded = parseKeyringText(fs.readFileSync(filePath, "utf8"), filePath);
    expect(keysOf(upgraded)).toEqual(keysOf(complete));
    expect(upgraded.passwordPepper).toBe(complete.passwordPepper);
    expect(upgraded.auditCheckpointKey).not.toBe(dropped);
    expect(Buffer.from(upgraded.auditCheckpointKey, "base64")).toHaveLength(32);
    expect(fs.statSync(filePath).mode & 0o777).toBe(0o600);
    expectOnlyTheKeyringIn(path.dirname(filePath));
    const message = Buffer.from("checkpoint");
    expect(await createLocalKeyring(filePath).signAuditCheckpoint(message)).toEqual(
      createHmac("sha256", Buffer.from(upgraded.auditCheckpointKey, "base64")).update(message).digest(),
    );
    expect(await addPasswordPepperIfMissing(filePath)).toBe("up-to-date");
  });

  it("gives a keyring without a pepper both the pepper and the checkpoint key in one upgrade", async () => {
    const filePath = freshPath();
    writeKeyringWithoutPepper(filePath);
    expect(await addPasswordPepperIfMissing(filePath)).toBe("pepper-added");
    const upgraded = parseKeyringText(fs.readFileSync(filePath, "utf8"), filePath);
    expect(Buffer.from(upgraded.auditCheckpointKey, "base64")).toHaveLength(32);
    expect(upgraded.auditCheckpointKey).not.toBe(upgraded.passwordPepper);
  });
});

describe("adding the password pepper to an old keyring", () => {
  it("adds a fresh pepper, keeps every other key byte for byte, and leaves mode 0600", async () => {
    const filePath = freshPath();
    const old = writeKeyringWithoutPepper(filePath);
    expect(await addPasswordPepperIfMissing(filePath)).toBe("pepper-added");

    const upgraded = parseKeyringText(fs.readFileSync(filePath, "utf8"), filePath);
    expect(keysOf(upgraded)).toEqual(keysOf(old));
    expect(upgraded.format).toBe(old.format);
    expect(Buffer.from(upgraded.passwordPepper, "base64")).toHaveLength(32);
    expect(fs.statSync(filePath).mode & 0o777).toBe(0o600);
    expectOnlyTheKeyringIn(path.dirname(filePath));
    // The provider now accepts it and peppers with the new key.
    expect(await createLocalKeyring(filePath).pepperPassword("a password")).toHaveLength(32);
  });

  it("keeps data encrypted before the upgrade readable after it", async () => {
    const filePath = freshPath();
    const old = writeKeyringWithoutPepper(filePath);
    // The same data keys with some pepper, in another file, stand for the keys that encrypted existing rows.
    const twinPath = freshPath();
    expect(await createKeyringFile(twinPath, {
      ...old,
      passwordPepper: Buffer.alloc(32, 5).toString("base64"),
      auditCheckpointKey: Buffer.alloc(32, 6).toString("base64"),
    })).toBe("created");
    const context = { table: "users", column: "legal_name", rowId: "0001" };
    const ciphertext = await createFieldCipher(createLocalKeyring(twinPath)).encryptField("Alice Example", context);

    expect(await addPasswordPepperIfMissing(filePath)).toBe("pepper-added");
    expect(await createFieldCipher(createLocalKeyring(filePath)).decryptField(ciphertext, context)).toBe("Alice Example");
  });

  it("changes nothing on a second run: same bytes, same file, same pepper", async () => {
    const filePath = freshPath();
    writeKeyringWithoutPepper(filePath);
    expect(await addPasswordPepperIfMissing(filePath)).toBe("pepper-added");
    const before = fileState(filePath);
    expect(await addPasswordPepperIfMissing(filePath)).toBe("up-to-date");
    expect(fileState(filePath)).toEqual(before);
    expectOnlyTheKeyringIn(path.dirname(filePath));
  });

  it("never replaces the pepper of a keyring created with one", async () => {
    const filePath = freshPath();
    expect(await createKeyringFile(filePath)).toBe("created");
    const before = fileState(filePath);
    expect(await addPasswordPepperIfMissing(filePath)).toBe("up-to-date");
    expect(fileState(filePath)).toEqual(before);
  });

  it("only reads a keyring that has its pepper: it takes no lock, so a read-only directory is fine", async () => {
    const filePath = freshPath();
    expect(await createKeyringFile(filePath)).toBe("created");
    const before = fileState(filePath);
    // A lock left behind would stop an upgrade; a keyring that needs none does not even look for it. (Tested
    // this way rather than with a read-only directory because these tests may run as root, who can write there.)
    const lockPath = path.join(path.dirname(filePath), ".keyring.json.upgrade-lock");
    fs.writeFileSync(lockPath, "", { mode: 0o600 });
    expect(await addPasswordPepperIfMissing(filePath)).toBe("up-to-date");
    expect(fileState(filePath)).toEqual(before);
    expect(fs.existsSync(lockPath)).toBe(true);
  });

  it("reports a damaged pepper instead of leaving it for the first sign-in", async () => {
    const filePath = freshPath();
    expect(await createKeyringFile(filePath)).toBe("created");
    const keyring = parseKeyringText(fs.readFileSync(filePath, "utf8"), filePath);
    fs.writeFileSync(filePath, JSON.stringify({ ...keyring, passwordPepper: keyring.passwordPepper.slice(0, 20) }));
    const before = fileState(filePath);
    await expect(addPasswordPepperIfMissing(filePath)).rejects.toThrow(/passwordPepper: must be exactly 32 bytes/);
    expect(fileState(filePath)).toEqual(before);
  });

  it.runIf(process.getuid?.() === 0)("keeps the file's owner when root upgrades another user's keyring", async () => {
    const filePath = freshPath();
    writeKeyringWithoutPepper(filePath);
    fs.chownSync(filePath, 65534, 65534);
    expect(await addPasswordPepperIfMissing(filePath)).toBe("pepper-added");
    const status = fs.statSync(filePath);
    expect({ userId: status.uid, groupId: status.gid, mode: status.mode & 0o777 }).toEqual({ userId: 65534, groupId: 65534, mode: 0o600 });
  });

  it("upgrades the file a symbolic link points to and keeps the link", async () => {
    const filePath = freshPath();
    const old = writeKeyringWithoutPepper(filePath);
    const linkPath = path.join(path.dirname(filePath), "..", `link-${fileCounter}.json`);
    fs.symlinkSync(filePath, linkPath);
    expect(await addPasswordPepperIfMissing(linkPath)).toBe("pepper-added");
    expect(fs.lstatSync(linkPath).isSymbolicLink()).toBe(true);
    expect(keysOf(parseKeyringText(fs.readFileSync(filePath, "utf8"), filePath))).toEqual(keysOf(old));
  });

  it("refuses, without changing it, a keyring readable by group or others", async () => {
    const filePath = freshPath();
    writeKeyringWithoutPepper(filePath);
    fs.chmodSync(filePath, 0o644);
    const before = fileState(filePath);
    await expect(addPasswordPepperIfMissing(filePath)).rejects.toThrow(/accessible by group or others \(mode 0644\)/);
    expect(fileState(filePath)).toEqual(before);
    expectOnlyTheKeyringIn(path.dirname(filePath));
  });

  it("refuses, without changing it, an old keyring that is invalid in another way", async () => {
    const filePath = freshPath();
    const old = writeKeyringWithoutPepper(filePath);
    fs.writeFileSync(filePath, JSON.stringify({ ...old, blindIndexKeys: { email: old.dataKeys.pii.versions["1"] } }));
    const before = fileState(filePath);
    await expect(addPasswordPepperIfMissing(filePath)).rejects.toThrow(/is invalid: .*the same key appears more than once/);
    expect(fileState(filePath)).toEqual(before);
    expectOnlyTheKeyringIn(path.dirname(filePath));
  });

  it("fails instead of racing while another initialiser holds the lock", async () => {
    const filePath = freshPath();
    writeKeyringWithoutPepper(filePath);
    const lockPath = path.join(path.dirname(filePath), ".keyring.json.upgrade-lock");
    fs.writeFileSync(lockPath, "", { mode: 0o600 });
    const before = fileState(filePath);
    await expect(addPasswordPepperIfMissing(filePath)).rejects.toThrow(/another initialiser is upgrading/);
    expect(fileState(filePath)).toEqual(before);
    fs.rmSync(lockPath);
    expect(await addPasswordPepperIfMissing(filePath)).toBe("pepper-added");
  });

  it("adds exactly one pepper when two upgrades start at once", async () => {
    const filePath = freshPath();
    writeKeyringWithoutPepper(filePath);
    const outcomes = await Promise.allSettled([addPasswordPepperIfMissing(filePath), addPasswordPepperIfMissing(filePath)]);
    const added = outcomes.filter((outcome) => outcome.status === "fulfilled" && outcome.value === "pepper-added");
    expect(added).toHaveLength(1);
    // The other one either found the pepper already there or was turned away by the lock.
    const pepper = parseKeyringText(fs.readFileSync(filePath, "utf8"), filePath).passwordPepper;
    expect(await addPasswordPepperIfMissing(filePath)).toBe("up-to-date");
    expect(parseKeyringText(fs.readFileSync(filePath, "utf8"), filePath).passwordPepper).toBe(pepper);
    expectOnlyTheKeyringIn(path.dirname(filePath));
  });
});

describe("scripts/init-keyring.ts, as run.sh calls it on every start", () => {
  async function initialise(filePath: string): Promise<string> {
    const { stdout } = await runFile(path.join(repositoryRoot, "node_modules", ".bin", "tsx"), ["scripts/init-keyring.ts", filePath], {
      cwd: repositoryRoot,
    });
    return stdout;
  }

  it("upgrades an old keyring once, then leaves it alone", async () => {
    const filePath = freshPath();
    const old = writeKeyringWithoutPepper(filePath);
    expect(await initialise(filePath)).toContain("password pepper added, other keys kept");
    const upgraded = fileState(filePath);
    expect(upgraded.mode).toBe(0o600);
    expect(keysOf(parseKeyringText(upgraded.text, filePath))).toEqual(keysOf(old));

    expect(await initialise(filePath)).toContain("keyring exists, left as is");
    expect(fileState(filePath)).toEqual(upgraded);
  });

  it("creates a new keyring with a pepper", async () => {
    const filePath = freshPath();
    expect(await initialise(filePath)).toContain("keyring created with fresh keys");
    expect(Buffer.from(parseKeyringText(fs.readFileSync(filePath, "utf8"), filePath).passwordPepper, "base64")).toHaveLength(32);
  });
});
