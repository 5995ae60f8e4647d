import { createHmac, createSecretKey } from "node:crypto";
import fs from "node:fs";
import { hash, verify } from "@node-rs/argon2";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { Semaphore } from "@/lib/concurrency/semaphore";
import { createKeyringFile, generateKeyring, parseKeyringText } from "@/lib/crypto/keyring-format";
import { stubTemporaryKeyring, writeKeyringWithoutPepper } from "@/tests/helpers/temporary-keyring";
import type * as PasswordModule from "@/lib/auth/password";

// The configuration is read once per process on first use, so the cap and the keyring (hashing goes through
// the password pepper) are set before the module first asks.
const configuredConcurrency = 2;
vi.stubEnv("AUTH_SECRET", "s".repeat(48));
vi.stubEnv("PASSWORD_HASH_CONCURRENCY", String(configuredConcurrency));
const keyringPath = await stubTemporaryKeyring();
const { currentArgon2Parameters, hashPassword, passwordHashingLoad, passwordHashNeedsRehash, verifyPassword } = await import(
  "@/lib/auth/password"
);

// `Algorithm` is a const enum that isolated modules cannot read: 2 is Argon2id.
const argon2id = 2;
const owaspMinimum = { algorithm: argon2id, memoryCost: 19_456, timeCost: 2, parallelism: 1 };
const salt = "c2FsdHNhbHRzYWx0c2FsdA";
const digest = "ZGlnZXN0ZGlnZXN0ZGlnZXN0ZGlnZXN0ZGlnZXN0ZGk";

function phc(algorithm: string, version: number, memory: number, time: number, parallelism: number): string {
  return `$${algorithm}$v=${version}$m=${memory},t=${time},p=${parallelism}$${salt}$${digest}`;
}

const pepperPrefix = "$hmac-sha256-pepper$v=1";
/** A stored hash as hashPassword writes it: the pepper scheme and version, then argon2's PHC string. */
function peppered(argon2Hash: string): string {
  return `${pepperPrefix}${argon2Hash}`;
}

/** The argon2 PHC string inside a peppered hash. */
function argon2Part(storedHash: string): string {
  expect(storedHash.startsWith(`${pepperPrefix}$argon2id$`)).toBe(true);
  return storedHash.slice(pepperPrefix.length);
}

describe("passwordHashNeedsRehash", () => {
  const { memoryCost, timeCost, parallelism } = currentArgon2Parameters;
  let currentHash: string;

  beforeAll(async () => {
    currentHash = await hashPassword("a password hashed today");
  });

  it("keeps a peppered hash made with today's parameters", () => {
    expect(
      currentHash.startsWith(`${pepperPrefix}$argon2id$v=19$m=${memoryCost},t=${timeCost},p=${parallelism}$`),
    ).toBe(true);
    expect(passwordHashNeedsRehash(currentHash)).toBe(false);
  });

  it("keeps a peppered hash made with stronger parameters", () => {
    expect(passwordHashNeedsRehash(peppered(phc("argon2id", 19, memoryCost * 2, timeCost, parallelism)))).toBe(false);
    expect(passwordHashNeedsRehash(peppered(phc("argon2id", 19, memoryCost, timeCost + 1, parallelism)))).toBe(false);
    expect(passwordHashNeedsRehash(peppered(phc("argon2id", 19, memoryCost, timeCost, parallelism + 3)))).toBe(false);
  });

  it.each([
    ["no pepper (stored before passwords were peppered), even with today's parameters", phc("argon2id", 19, memoryCost, timeCost, parallelism)],
    ["no pepper and stronger parameters", phc("argon2id", 19, memoryCost * 2, timeCost, parallelism)],
    ["a pepper version this build does not use", `$hmac-sha256-pepper$v=2${phc("argon2id", 19, memoryCost, timeCost, parallelism)}`],
    ["less memory", peppered(phc("argon2id", 19, memoryCost - 1, timeCost, parallelism))],
    ["fewer passes", peppered(phc("argon2id", 19, memoryCost, timeCost - 1, parallelism))],
    ["fewer lanes", peppered(phc("argon2id", 19, memoryCost, timeCost, parallelism - 1))],
    ["argon2i", peppered(phc("argon2i", 19, memoryCost, timeCost, parallelism))],
    ["argon2d", peppered(phc("argon2d", 19, memoryCost, timeCost, parallelism))],
    ["an older Argon2 version", peppered(phc("argon2id", 16, memoryCost, timeCost, parallelism))],
    ["bcrypt", "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW"],
    ["an empty string", ""],
    ["a truncated hash", peppered(`$argon2id$v=19$m=${memoryCost},t=${timeCost},p=${parallelism}$${salt}`)],
    ["only the pepper prefix", pepperPrefix],
  ])("asks for a rehash of a hash with %s", (_description, storedHash) => {
    expect(passwordHashNeedsRehash(storedHash)).toBe(true);
  });

  it("asks for a rehash of a real unpeppered hash at OWASP's minimum, which still verifies", async () => {
    const oldHash = await hash("an older password", owaspMinimum);
    expect(passwordHashNeedsRehash(oldHash)).toBe(true);
    expect(await verifyPassword(oldHash, "an older password")).toBe(true);
  });
});

describe("verifyPassword", () => {
  it("accepts the right password and refuses a wrong one, an unknown account and a malformed hash", async () => {
    const storedHash = await hashPassword("Correct horse battery staple!");
    expect(await verifyPassword(storedHash, "Correct horse battery staple!")).toBe(true);
    expect(await verifyPassword(storedHash, "Correct horse battery staple?")).toBe(false);
    expect(await verifyPassword(null, "Correct horse battery staple!")).toBe(false);
    expect(await verifyPassword("not a hash", "Correct horse battery staple!")).toBe(false);
    expect(await verifyPassword(peppered("not a hash"), "Correct horse battery staple!")).toBe(false);
  });
});

describe("the password pepper", () => {
  const password = "Correct horse battery staple!";

  it("makes a hash that argon2 alone does not verify over the raw password, and verifyPassword does", async () => {
    const storedHash = await hashPassword(password);
    expect(await verify(argon2Part(storedHash), password)).toBe(false);
    expect(await verifyPassword(storedHash, password)).toBe(true);
  });

  it("hashes the HMAC-SHA256 of the password under the keyring's pepper (as base64)", async () => {
    const storedHash = await hashPassword(password);
    const { passwordPepper, blindIndexKeys } = parseKeyringText(fs.readFileSync(keyringPath, "utf8"), keyringPath);
    const hmacUnder = (encodedKey: string) =>
      createHmac("sha256", createSecretKey(Buffer.from(encodedKey, "base64"))).update(password, "utf8").digest("base64");
    expect(await verify(argon2Part(storedHash), hmacUnder(passwordPepper))).toBe(true);
    // The same HMAC under any other key (here the email blind-index key) is not what was hashed.
    expect(await verify(argon2Part(storedHash), hmacUnder(String(blindIndexKeys.email.versions["1"])))).toBe(false);
  });

  it("still verifies an unpeppered hash made as the old code made it, over the raw password", async () => {
    const oldHash = await hash(password, { algorithm: argon2id, ...currentArgon2Parameters });
    expect(oldHash.startsWith("$argon2id$")).toBe(true);
    expect(await verifyPassword(oldHash, password)).toBe(true);
    expect(await verifyPassword(oldHash, `${password}?`)).toBe(false);
    expect(passwordHashNeedsRehash(oldHash)).toBe(true);
  });

  it("refuses a peppered hash under another keyring's pepper", async () => {
    const storedHash = await hashPassword(password);
    const otherKeyringPath = `${keyringPath}.other/keyring.json`;
    expect(await createKeyringFile(otherKeyringPath, generateKeyring())).toBe("created");
    const otherPassword = await freshPasswordModule({ KEYRING_PATH: otherKeyringPath });
    expect(await otherPassword.verifyPassword(storedHash, password)).toBe(false);
    // The other keyring's own hashes work as usual, and not under this keyring.
    const otherHash = await otherPassword.hashPassword(password);
    expect(await otherPassword.verifyPassword(otherHash, password)).toBe(true);
    expect(await verifyPassword(otherHash, password)).toBe(false);
  });

  it("refuses to guess when the hash names a pepper version this build does not know", async () => {
    const storedHash = await hashPassword(password);
    const unknownVersion = storedHash.replace(/^\$hmac-sha256-pepper\$v=1\$/, "$hmac-sha256-pepper$v=2$");
    await expect(verifyPassword(unknownVersion, password)).rejects.toMatchObject({
      code: "internal",
      message: expect.stringContaining("pepper version 2"),
    });
  });

  it.each<[string, () => Promise<string>]>([
    ["the keyring file is missing", () => Promise.resolve(`${keyringPath}.missing/keyring.json`)],
    [
      "the keyring has no pepper (written before the pepper existed)",
      () => {
        const filePath = `${keyringPath}.no-pepper/keyring.json`;
        writeKeyringWithoutPepper(filePath);
        return Promise.resolve(filePath);
      },
    ],
  ])("answers 'unavailable', never false, on every path when %s", async (_label, keyringFile) => {
    const storedHash = await hashPassword(password);
    const oldHash = await hash(password, { algorithm: argon2id, ...currentArgon2Parameters });
    const broken = await freshPasswordModule({ KEYRING_PATH: await keyringFile() });
    const unavailable = { code: "unavailable", message: expect.stringContaining("password pepper could not be computed") };
    await expect(broken.verifyPassword(storedHash, password)).rejects.toMatchObject(unavailable);
    await expect(broken.verifyPassword(storedHash, "a wrong guess")).rejects.toMatchObject(unavailable);
    // The decoy (unknown account) and an old unpeppered hash fail alike, so an outage reveals no account.
    await expect(broken.verifyPassword(null, password)).rejects.toMatchObject(unavailable);
    await expect(broken.verifyPassword(oldHash, password)).rejects.toMatchObject(unavailable);
    // And nothing is ever hashed without the pepper.
    await expect(broken.hashPassword(password)).rejects.toMatchObject(unavailable);
  });

  it("names the initialiser when the keyring has no pepper", async () => {
    const filePath = `${keyringPath}.named/keyring.json`;
    writeKeyringWithoutPepper(filePath);
    const broken = await freshPasswordModule({ KEYRING_PATH: filePath });
    const failure: unknown = await broken.hashPassword(password).catch((error: unknown) => error);
    const cause = (failure as { cause?: unknown }).cause;
    expect(String((cause as Error).message)).toContain("has no password pepper");
    expect(String((cause as Error).message)).toContain(`npx tsx scripts/init-keyring.ts ${filePath}`);
  });
});

/**
 * A second copy of lib/auth/password.ts (and the configuration and key provider under it) reading the given
 * variables. The copy loaded at the top of the file keeps its own configuration and keys.
 */
async function freshPasswordModule(variables: Record<string, string>): Promise<typeof PasswordModule> {
  const saved = Object.fromEntries(Object.keys(variables).map((name) => [name, process.env[name]]));
  for (const [name, value] of Object.entries(variables)) vi.stubEnv(name, value);
  vi.resetModules();
  try {
    const passwordModule = await import("@/lib/auth/password");
    // Read the configuration now, while the variables are set.
    await import("@/lib/env").then(({ env }) => env());
    return passwordModule;
  } finally {
    for (const [name, value] of Object.entries(saved)) vi.stubEnv(name, value);
  }
}

describe("the cap on concurrent hashing", () => {
  it("runs at most 3 of 10 parallel real verifications at once, and does reach 3", async () => {
    const semaphore = new Semaphore(3);
    const storedHash = await hash("a password", owaspMinimum);
    let running = 0;
    let mostRunning = 0;
    let finished = 0;
    const verifications = Array.from({ length: 10 }, (_, index) =>
      semaphore.run(async () => {
        running += 1;
        mostRunning = Math.max(mostRunning, running);
        try {
          return await verify(storedHash, index === 0 ? "a password" : `wrong ${index}`);
        } finally {
          running -= 1;
          finished += 1;
        }
      }),
    );
    expect(semaphore.load).toMatchObject({ active: 3, waiting: 7 });
    const outcomes = await Promise.all(verifications);
    expect(finished).toBe(10);
    expect(mostRunning).toBe(3);
    expect(semaphore.load).toEqual({ limit: 3, active: 0, waiting: 0, peakActive: 3 });
    expect(outcomes.filter(Boolean)).toHaveLength(1);
  });

  it("frees a slot when the work throws", async () => {
    const semaphore = new Semaphore(1);
    await expect(semaphore.run(() => Promise.reject(new Error("boom")))).rejects.toThrow("boom");
    expect(await semaphore.run(() => Promise.resolve("next"))).toBe("next");
    expect(semaphore.load.active).toBe(0);
  });

  it("serves waiters first come, first served", async () => {
    const semaphore = new Semaphore(1);
    const order: number[] = [];
    await Promise.all([1, 2, 3, 4].map((value) => semaphore.run(async () => void order.push(value))));
    expect(order).toEqual([1, 2, 3, 4]);
  });

  it("refuses a limit below one", () => {
    expect(() => new Semaphore(0)).toThrow(RangeError);
    expect(() => new Semaphore(1.5)).toThrow(RangeError);
  });

  it("holds verifyPassword to PASSWORD_HASH_CONCURRENCY under 10 parallel sign-ins", async () => {
    const storedHash = await hashPassword("the customer's password");
    const verifications = Array.from({ length: 10 }, (_, index) =>
      verifyPassword(index % 2 === 0 ? storedHash : null, index === 0 ? "the customer's password" : `guess ${index}`),
    );
    // Ten arrived at once: once each has its pepper HMAC (microseconds), the cap runs and the rest queue.
    await vi.waitFor(
      () => {
        expect(passwordHashingLoad()).toMatchObject({ limit: configuredConcurrency, active: configuredConcurrency, waiting: 8 });
      },
      { interval: 1, timeout: 1_000 },
    );
    const outcomes = await Promise.all(verifications);
    expect(outcomes).toEqual([true, false, false, false, false, false, false, false, false, false]);
    expect(passwordHashingLoad()).toEqual({
      limit: configuredConcurrency,
      active: 0,
      waiting: 0,
      peakActive: configuredConcurrency,
    });
  });
});
