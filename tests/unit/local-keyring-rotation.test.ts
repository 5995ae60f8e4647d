import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { createFieldCipher, type FieldContext } from "@/lib/crypto/field-cipher";
import { createKeyringFile, parseKeyringText, type KeyringFile } from "@/lib/crypto/keyring-format";
import { withKeyringLock } from "@/lib/crypto/keyring-lock";
import { createLocalKeyring } from "@/lib/crypto/local-keyring";
import { BankError } from "@/lib/errors";
import { parseEnvironment } from "@/lib/env-schema";
import { formatProgress, ProgressBar } from "../../scripts/progress-bar";

const temporaryRoot = fs.mkdtempSync(path.join(os.tmpdir(), "keyring-rotation-"));
afterAll(() => fs.rmSync(temporaryRoot, { recursive: true, force: true }));

let fileCounter = 0;
async function freshKeyring(): Promise<string> {
  fileCounter += 1;
  const filePath = path.join(temporaryRoot, `case-${fileCounter}`, "keyring.json");
  expect(await createKeyringFile(filePath)).toBe("created");
  return filePath;
}

function readKeyring(filePath: string): KeyringFile {
  return parseKeyringText(fs.readFileSync(filePath, "utf8"), filePath);
}

const context: FieldContext = { table: "users", column: "legal_name", rowId: "5b0d6c1e-0000-4000-8000-000000000001" };

/** A clock the test moves by hand, so that refresh intervals are exact rather than slept through. */
function manualClock(): { now: () => number; advanceSeconds: (seconds: number) => void } {
  let milliseconds = 1_000_000;
  return { now: () => milliseconds, advanceSeconds: (seconds) => (milliseconds += seconds * 1000) };
}

describe("rotating a data key in the local keyring", () => {
  it.each([0o600, 0o400])(
    "adds version max+1 as current, keeps every existing key byte for byte, and keeps mode 0%s",
    async (mode) => {
      const filePath = await freshKeyring();
      fs.chmodSync(filePath, mode);
      const before = readKeyring(filePath);
      const provider = createLocalKeyring(filePath);

      expect(await provider.rotateDataKey("pii")).toBe(2);
      expect(await provider.rotateDataKey("pii")).toBe(3);
      const after = readKeyring(filePath);

      expect(after.dataKeys.pii.current).toBe(3);
      expect(Object.keys(after.dataKeys.pii.versions).sort()).toEqual(["1", "2", "3"]);
      expect(after.dataKeys.pii.versions["1"]).toBe(before.dataKeys.pii.versions["1"]);
      expect(after.dataKeys.pii.versions["2"]).not.toBe(after.dataKeys.pii.versions["3"]);
      expect(after.dataKeys.mfa).toEqual(before.dataKeys.mfa);
      expect(after.dataKeys.memo).toEqual(before.dataKeys.memo);
      expect(after.blindIndexKeys).toEqual(before.blindIndexKeys);
      expect(fs.statSync(filePath).mode & 0o777).toBe(mode);
      // Neither the temporary file nor the lock is left behind.
      expect(fs.readdirSync(path.dirname(filePath))).toEqual(["keyring.json"]);
      // The rotating process writes with the new version from its next encryption.
      expect((await provider.currentDataKey("pii")).version).toBe(3);
    },
  );

  it("lets values written before and after a rotation decrypt side by side", async () => {
    const provider = createLocalKeyring(await freshKeyring());
    const cipher = createFieldCipher(provider);
    const old = await cipher.encryptField("written before", context);
    await provider.rotateDataKey("pii");
    const fresh = await cipher.encryptField("written after", context);
    expect(old.startsWith("v1:pii:1:")).toBe(true);
    expect(fresh.startsWith("v1:pii:2:")).toBe(true);
    expect(await cipher.decryptField(old, context)).toBe("written before");
    expect(await cipher.decryptField(fresh, context)).toBe("written after");
  });

  it("loses no version when rotations run at once from two providers on the same file", async () => {
    const filePath = await freshKeyring();
    const first = createLocalKeyring(filePath);
    const second = createLocalKeyring(filePath);
    const versions = await Promise.all(
      Array.from({ length: 8 }, (_, index) => (index % 2 === 0 ? first : second).rotateDataKey("memo")),
    );
    expect([...versions].sort((a, b) => a - b)).toEqual([2, 3, 4, 5, 6, 7, 8, 9]);
    const after = readKeyring(filePath);
    expect(after.dataKeys.memo.current).toBe(9);
    expect(Object.keys(after.dataKeys.memo.versions)).toHaveLength(9);
    expect(new Set(Object.values(after.dataKeys.memo.versions)).size).toBe(9);
  });

  it("follows a symbolic link and replaces the file it points to, keeping the link", async () => {
    const filePath = await freshKeyring();
    const linkPath = path.join(path.dirname(filePath), "linked.json");
    fs.symlinkSync(filePath, linkPath);
    expect(await createLocalKeyring(linkPath).rotateDataKey("mfa")).toBe(2);
    expect(fs.lstatSync(linkPath).isSymbolicLink()).toBe(true);
    expect(readKeyring(filePath).dataKeys.mfa.current).toBe(2);
  });

  it.skipIf(process.getuid?.() !== 0)("keeps the keyring's owner when root rotates a keyring that belongs to the app's user", async () => {
    const filePath = await freshKeyring();
    fs.chownSync(filePath, 4321, 4321);
    expect(await createLocalKeyring(filePath).rotateDataKey("pii")).toBe(2);
    const status = fs.statSync(filePath);
    expect([status.uid, status.gid, status.mode & 0o777]).toEqual([4321, 4321, 0o600]);
  });

  it("refuses to rotate a keyring that others can read, and changes nothing", async () => {
    const filePath = await freshKeyring();
    fs.chmodSync(filePath, 0o644);
    const text = fs.readFileSync(filePath, "utf8");
    await expect(createLocalKeyring(filePath).rotateDataKey("pii")).rejects.toThrow(/accessible by group or others/);
    expect(fs.readFileSync(filePath, "utf8")).toBe(text);
    expect(fs.readdirSync(path.dirname(filePath))).toEqual(["keyring.json"]);
  });

  it("refuses an unknown purpose", async () => {
    const provider = createLocalKeyring(await freshKeyring());
    await expect(provider.rotateDataKey("email" as "pii")).rejects.toBeInstanceOf(BankError);
  });
});

describe("a running instance (a second provider on the same file)", () => {
  it("switches to the new current version once the refresh interval has passed, not before", async () => {
    const filePath = await freshKeyring();
    const clock = manualClock();
    const running = createLocalKeyring(filePath, { currentVersionRefreshSeconds: 30, now: clock.now });
    expect((await running.currentDataKey("pii")).version).toBe(1);

    await createLocalKeyring(filePath).rotateDataKey("pii");
    clock.advanceSeconds(29);
    expect((await running.currentDataKey("pii")).version).toBe(1);
    clock.advanceSeconds(1);
    expect((await running.currentDataKey("pii")).version).toBe(2);
  });

  it("re-reads the file at most once per interval", async () => {
    const filePath = await freshKeyring();
    const clock = manualClock();
    const running = createLocalKeyring(filePath, { currentVersionRefreshSeconds: 5, now: clock.now });
    await running.currentDataKey("pii");
    const saved = fs.readFileSync(filePath, "utf8");
    fs.rmSync(filePath);
    clock.advanceSeconds(4);
    // Within the interval the cached keys answer; the missing file is not even looked at.
    await expect(running.currentDataKey("pii")).resolves.toMatchObject({ version: 1 });
    clock.advanceSeconds(1);
    await expect(running.currentDataKey("pii")).rejects.toThrow(/cannot be opened/);
    // A failed re-read is not cached: once the file is back the next call succeeds.
    fs.writeFileSync(filePath, saved, { mode: 0o600 });
    await expect(running.currentDataKey("pii")).resolves.toMatchObject({ version: 1 });
  });

  it("decrypts a value written with a version it has not loaded yet at once, by reading the file again", async () => {
    const filePath = await freshKeyring();
    const clock = manualClock();
    const running = createFieldCipher(createLocalKeyring(filePath, { currentVersionRefreshSeconds: 3600, now: clock.now }));
    await running.encryptField("warm the cache", context);

    const rotating = createLocalKeyring(filePath);
    await rotating.rotateDataKey("pii");
    const written = await createFieldCipher(rotating).encryptField("from the other instance", context);
    expect(written.startsWith("v1:pii:2:")).toBe(true);
    expect(await running.decryptField(written, context)).toBe("from the other instance");
  });

  it("still refuses a version that the file does not have either", async () => {
    const provider = createLocalKeyring(await freshKeyring());
    await provider.currentDataKey("pii");
    await expect(provider.dataKey("pii", 7)).rejects.toThrow(/no pii data key version 7/);
  });
});

describe("the keyring lock", () => {
  it("makes a second holder wait until the first is done", async () => {
    const keyringPath = path.join(temporaryRoot, "lock-wait.json");
    const order: string[] = [];
    let releaseFirst: () => void = () => undefined;
    const firstHolds = new Promise<void>((resolve) => (releaseFirst = resolve));
    const first = withKeyringLock(keyringPath, async () => {
      order.push("first in");
      await firstHolds;
      order.push("first out");
    });
    await new Promise((resolve) => setTimeout(resolve, 50));
    const second = withKeyringLock(keyringPath, async () => {
      order.push("second in");
    });
    await new Promise((resolve) => setTimeout(resolve, 100));
    releaseFirst();
    await Promise.all([first, second]);
    expect(order).toEqual(["first in", "first out", "second in"]);
    expect(fs.existsSync(`${keyringPath}.lock`)).toBe(false);
  });

  it("gives up with 'unavailable' naming the lock file when a lock is never released", async () => {
    const keyringPath = path.join(temporaryRoot, "lock-stale.json");
    fs.writeFileSync(`${keyringPath}.lock`, "12345@elsewhere\n");
    const attempt = withKeyringLock(keyringPath, async () => "ran", 100);
    await expect(attempt).rejects.toMatchObject({ code: "unavailable" });
    await expect(attempt).rejects.toThrow(/locked by 12345@elsewhere .*remove the lock file/);
  });
});

describe("KEY_REFRESH_SECONDS", () => {
  const base = { AUTH_SECRET: "x".repeat(40) };
  it("defaults to 30 seconds and accepts whole seconds from 1 to 3600", () => {
    expect(parseEnvironment(base).keyRefreshSeconds).toBe(30);
    expect(parseEnvironment({ ...base, KEY_REFRESH_SECONDS: "1" }).keyRefreshSeconds).toBe(1);
    expect(parseEnvironment({ ...base, KEY_REFRESH_SECONDS: "3600" }).keyRefreshSeconds).toBe(3600);
  });

  it.each(["0", "3601", "1.5", "soon", "-5"])("refuses %s, naming the variable", (value) => {
    expect(() => parseEnvironment({ ...base, KEY_REFRESH_SECONDS: value })).toThrow(/KEY_REFRESH_SECONDS/);
  });
});

describe("the progress bar", () => {
  function recorder(isTTY: boolean) {
    const written: string[] = [];
    return { stream: { isTTY, write: (text: string) => written.push(text) }, written };
  }

  it("formats a bar, a count and a percentage", () => {
    expect(formatProgress("users.email_ciphertext", 512, 1536)).toBe(
      `users.email_ciphertext [${"#".repeat(10)}${"-".repeat(20)}] 512/1,536 33%`,
    );
    expect(formatProgress("outbox.body_ciphertext", 0, 0)).toContain("0/0 100%");
  });

  it("rewrites one line with a carriage return on a terminal", () => {
    const { stream, written } = recorder(true);
    const bar = new ProgressBar("t.c", stream);
    bar.update(0, 4);
    bar.update(2, 4);
    bar.finish(4, 4);
    expect(written.every((text) => text.startsWith("\r"))).toBe(true);
    expect(written.at(-1)?.endsWith("4/4 100%\u001b[K\n")).toBe(true);
    expect(written.slice(0, -1).some((text) => text.includes("\n"))).toBe(false);
  });

  it("prints plain lines at most once per interval elsewhere, and the last state once", () => {
    const { stream, written } = recorder(false);
    const clock = manualClock();
    const bar = new ProgressBar("t.c", stream, 5_000, clock.now);
    bar.update(0, 100);
    bar.update(10, 100);
    clock.advanceSeconds(5);
    bar.update(50, 100);
    bar.finish(100, 100, "(1 changed by the app meanwhile, left as written)");
    expect(written).toEqual([
      `${formatProgress("t.c", 0, 100)}\n`,
      `${formatProgress("t.c", 50, 100)}\n`,
      `${formatProgress("t.c", 100, 100)} (1 changed by the app meanwhile, left as written)\n`,
    ]);
    expect(written.some((text) => text.includes("\r"))).toBe(false);
  });
});
