import { hash, verify } from "@node-rs/argon2";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { Semaphore } from "@/lib/concurrency/semaphore";

// The configuration is read once per process on first use, so the cap is set before the module first asks.
const configuredConcurrency = 2;
vi.stubEnv("AUTH_SECRET", "s".repeat(48));
vi.stubEnv("PASSWORD_HASH_CONCURRENCY", String(configuredConcurrency));
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

describe("passwordHashNeedsRehash", () => {
  const { memoryCost, timeCost, parallelism } = currentArgon2Parameters;
  let currentHash: string;

  beforeAll(async () => {
    currentHash = await hashPassword("a password hashed today");
  });

  it("keeps a hash made with today's parameters", () => {
    expect(currentHash.startsWith(`$argon2id$v=19$m=${memoryCost},t=${timeCost},p=${parallelism}$`)).toBe(true);
    expect(passwordHashNeedsRehash(currentHash)).toBe(false);
  });

  it("keeps a hash made with stronger parameters", () => {
    expect(passwordHashNeedsRehash(phc("argon2id", 19, memoryCost * 2, timeCost, parallelism))).toBe(false);
    expect(passwordHashNeedsRehash(phc("argon2id", 19, memoryCost, timeCost + 1, parallelism))).toBe(false);
    expect(passwordHashNeedsRehash(phc("argon2id", 19, memoryCost, timeCost, parallelism + 3))).toBe(false);
  });

  it.each([
    ["less memory", phc("argon2id", 19, memoryCost - 1, timeCost, parallelism)],
    ["fewer passes", phc("argon2id", 19, memoryCost, timeCost - 1, parallelism)],
    ["fewer lanes", phc("argon2id", 19, memoryCost, timeCost, parallelism - 1)],
    ["argon2i", phc("argon2i", 19, memoryCost, timeCost, parallelism)],
    ["argon2d", phc("argon2d", 19, memoryCost, timeCost, parallelism)],
    ["an older Argon2 version", phc("argon2id", 16, memoryCost, timeCost, parallelism)],
    ["bcrypt", "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW"],
    ["an empty string", ""],
    ["a truncated hash", `$argon2id$v=19$m=${memoryCost},t=${timeCost},p=${parallelism}$${salt}`],
  ])("asks for a rehash of a hash with %s", (_description, storedHash) => {
    expect(passwordHashNeedsRehash(storedHash)).toBe(true);
  });

  it("asks for a rehash of a real hash at OWASP's minimum, which still verifies", async () => {
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
  });
});

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
    // Ten arrived at once: the cap runs, the rest queue.
    expect(passwordHashingLoad()).toMatchObject({ limit: configuredConcurrency, active: configuredConcurrency, waiting: 8 });
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
