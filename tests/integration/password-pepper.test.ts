/**
 * The password pepper end to end, on the real database: old unpeppered hashes sign in and are replaced by
 * peppered ones, and an unavailable pepper is an outage (503) that never counts as a wrong password.
 *
 * The local keyring cannot lose its pepper while it keeps its other keys (it loads the whole file once, and a
 * file without a pepper is refused as a whole), whereas an HSM token can stop answering between two calls.
 * To reproduce that here, the local keyring is wrapped so that its pepperPassword can be made to throw on
 * demand; everything else (the keyring file, PostgreSQL, argon2) is real.
 */
import crypto from "node:crypto";
import { hash, verify } from "@node-rs/argon2";
import { and, eq } from "drizzle-orm";
import { beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { database, databaseHandle } from "@/db/client";
import { applyMigrations } from "@/db/migrations";
import { auditEvents, sessions, signInEvents, users } from "@/db/schema";
import type { SessionActor } from "@/lib/auth/actor";
import { authenticateWithPassword } from "@/lib/auth/authenticate-with-password";
import { startAuthenticatorReplacement } from "@/lib/auth/authenticator-replacement";
import { currentArgon2Parameters, hashPassword, passwordHashNeedsRehash, verifyPassword } from "@/lib/auth/password";
import { generateTotpSecret, totpSecretField } from "@/lib/auth/totp";
import { blindIndex, encryptField, normaliseEmail } from "@/lib/crypto";
import { BankError } from "@/lib/errors";
import { changePassword } from "@/lib/identity/account-security";
import type * as LocalKeyringModule from "@/lib/crypto/local-keyring";
import { useIntegrationEnvironment } from "../helpers/integration-environment";

const pepperFault = vi.hoisted(() => ({ error: null as Error | null, calls: 0 }));

vi.mock("@/lib/crypto/local-keyring", async (importOriginal) => {
  const original = await importOriginal<typeof LocalKeyringModule>();
  return {
    createLocalKeyring(filePath: string) {
      const real = original.createLocalKeyring(filePath);
      return {
        ...real,
        pepperPassword(password: string) {
          pepperFault.calls += 1;
          return pepperFault.error ? Promise.reject(pepperFault.error) : real.pepperPassword(password);
        },
      };
    },
  };
});

// Set before the application reads its configuration (env() is read once per process, on first use).
process.env.SIGN_IN_FAILURES_BEFORE_LOCK = "5";
process.env.LOCKOUT_DURATION_SECONDS = "600";

useIntegrationEnvironment();

const context = { ipAddress: "198.51.100.31", userAgent: "password-pepper-test/1.0" };
const password = "Quiet-lantern-harbour-47!";
const pepperPrefix = "$hmac-sha256-pepper$v=1$";

beforeAll(async () => {
  await applyMigrations(databaseHandle());
});

beforeEach(() => {
  pepperFault.error = null;
});

/** A hash as the code before the pepper made it: argon2id with today's parameters over the raw password. */
function unpepperedHash(plainPassword: string): Promise<string> {
  // `Algorithm` is a const enum that isolated modules cannot read: 2 is Argon2id.
  return hash(plainPassword, { algorithm: 2, ...currentArgon2Parameters });
}

interface TestCustomer {
  userId: string;
  email: string;
  actor: SessionActor;
}

/** A verified customer with an enrolled authenticator, an open session and the given stored hash. */
async function createCustomer(passwordHash: string): Promise<TestCustomer> {
  const userId = crypto.randomUUID();
  const email = normaliseEmail(`pepper-${crypto.randomBytes(4).toString("hex")}@example.com`);
  await database()
    .insert(users)
    .values({
      id: userId,
      role: "customer",
      emailCiphertext: await encryptField(email, { table: "users", column: "email", rowId: userId }),
      emailBlindIndex: await blindIndex("email", email),
      legalNameCiphertext: await encryptField("Robin Example", { table: "users", column: "legal_name", rowId: userId }),
      passwordHash,
      emailVerifiedAt: new Date(),
      termsAcceptedAt: new Date(),
      totpSecretCiphertext: await encryptField(generateTotpSecret(), totpSecretField(userId), "mfa"),
      totpEnrolledAt: new Date(),
    });
  const sessionId = crypto.randomUUID();
  await database().insert(sessions).values({ id: sessionId, userId });
  return { userId, email, actor: { kind: "customer", userId, role: "customer", sessionId, ...context } };
}

async function userRow(userId: string) {
  const [row] = await database()
    .select({ passwordHash: users.passwordHash, failedSignInCount: users.failedSignInCount, lockedUntil: users.lockedUntil })
    .from(users)
    .where(eq(users.id, userId));
  if (!row) throw new Error("no such user");
  return row;
}

async function signInOutcomes(userId: string): Promise<string[]> {
  const rows = await database().select({ outcome: signInEvents.outcome }).from(signInEvents).where(eq(signInEvents.userId, userId));
  return rows.map((row) => row.outcome);
}

async function passwordVerifiedEvents(userId: string) {
  return database()
    .select({ details: auditEvents.details })
    .from(auditEvents)
    .where(and(eq(auditEvents.actorId, userId), eq(auditEvents.action, "auth.sign_in.password_verified")));
}

async function caught(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error("expected a failure");
    },
    (error: unknown) => error,
  );
}

describe("migrating hashes stored before the pepper", () => {
  it("signs in with an old unpeppered hash and stores a peppered hash in its place", async () => {
    const oldHash = await unpepperedHash(password);
    const customer = await createCustomer(oldHash);

    expect(await authenticateWithPassword({ email: customer.email, password }, context)).toEqual({
      userId: customer.userId,
      role: "customer",
    });

    const stored = (await userRow(customer.userId)).passwordHash;
    expect(stored).not.toBe(oldHash);
    expect(stored.startsWith(`${pepperPrefix}argon2id$v=19$m=${currentArgon2Parameters.memoryCost},`)).toBe(true);
    expect(passwordHashNeedsRehash(stored)).toBe(false);
    // The new hash is of the pepper HMAC: argon2 alone over the password does not verify it.
    expect(await verify(stored.slice(pepperPrefix.length - 1), password)).toBe(false);
    expect(await verifyPassword(stored, password)).toBe(true);
    expect((await passwordVerifiedEvents(customer.userId)).map((event) => event.details)).toEqual([
      { passwordRehashed: true },
    ]);

    // The next sign-in uses the peppered hash and leaves it as it is.
    expect(await authenticateWithPassword({ email: customer.email, password }, context)).not.toBeNull();
    expect((await userRow(customer.userId)).passwordHash).toBe(stored);
    expect((await passwordVerifiedEvents(customer.userId)).map((event) => event.details)).toContainEqual({
      passwordRehashed: false,
    });
  });

  it("refuses a wrong password against an old hash as before, and keeps the old hash", async () => {
    const oldHash = await unpepperedHash(password);
    const customer = await createCustomer(oldHash);
    expect(await authenticateWithPassword({ email: customer.email, password: `${password}x` }, context)).toBeNull();
    const row = await userRow(customer.userId);
    expect(row.passwordHash).toBe(oldHash);
    expect(row.failedSignInCount).toBe(1);
    expect(await signInOutcomes(customer.userId)).toEqual(["wrong_password"]);
  });

  it("signs in with a hash made today, which is peppered", async () => {
    const customer = await createCustomer(await hashPassword(password));
    expect((await userRow(customer.userId)).passwordHash.startsWith(pepperPrefix)).toBe(true);
    expect(await authenticateWithPassword({ email: customer.email, password }, context)).not.toBeNull();
    expect(await authenticateWithPassword({ email: customer.email, password: "Quiet-lantern-harbour-48!" }, context)).toBeNull();
  });
});

describe("the cost of every path", () => {
  it("makes exactly one pepper call for an unknown account, a locked one, a wrong and a right password", async () => {
    const customer = await createCustomer(await hashPassword(password));
    const locked = await createCustomer(await hashPassword(password));
    await database().update(users).set({ lockedUntil: new Date(Date.now() + 600_000) }).where(eq(users.id, locked.userId));
    const attempts: [string, { email: string; password: string }][] = [
      ["unknown account", { email: "nobody-pepper-cost@example.com", password }],
      ["locked account", { email: locked.email, password }],
      ["wrong password", { email: customer.email, password: "Quiet-lantern-harbour-48!" }],
      ["right password", { email: customer.email, password }],
    ];
    for (const [label, credentials] of attempts) {
      pepperFault.calls = 0;
      await authenticateWithPassword(credentials, context);
      expect({ label, calls: pepperFault.calls }).toEqual({ label, calls: 1 });
    }
  });
});

describe("an unavailable pepper", () => {
  const tokenGone = () => new BankError("unavailable", { internalMessage: "the token was removed (test)" });

  it("fails every sign-in with 'unavailable', counts nothing towards a lock, and writes no hash", async () => {
    const peppered = await createCustomer(await hashPassword(password));
    const old = await createCustomer(await unpepperedHash(password));
    const before = { peppered: await userRow(peppered.userId), old: await userRow(old.userId) };
    pepperFault.error = tokenGone();

    // More attempts than the lock allows, right and wrong passwords alike, on both kinds of hash.
    for (let attempt = 1; attempt <= 6; attempt += 1) {
      for (const customer of [peppered, old]) {
        for (const typed of [password, `wrong-${attempt}`]) {
          const error = await caught(authenticateWithPassword({ email: customer.email, password: typed }, context));
          expect(error).toBeInstanceOf(BankError);
          expect((error as BankError).code).toBe("unavailable");
        }
      }
    }
    // An unknown account answers the same, so an outage does not reveal who has an account.
    const unknown = await caught(authenticateWithPassword({ email: "nobody-pepper@example.com", password }, context));
    expect((unknown as BankError).code).toBe("unavailable");

    // Nothing counted, nothing locked, nothing in the login history, and no hash written (above all, no
    // unpeppered one in place of the old hash).
    expect(await userRow(peppered.userId)).toEqual(before.peppered);
    expect(await userRow(old.userId)).toEqual(before.old);
    expect(await signInOutcomes(peppered.userId)).toEqual([]);
    expect(await signInOutcomes(old.userId)).toEqual([]);
    expect(await passwordVerifiedEvents(old.userId)).toEqual([]);

    // When the pepper is back, both sign in, and the old hash migrates then.
    pepperFault.error = null;
    expect(await authenticateWithPassword({ email: peppered.email, password }, context)).not.toBeNull();
    expect(await authenticateWithPassword({ email: old.email, password }, context)).not.toBeNull();
    expect((await userRow(old.userId)).passwordHash.startsWith(pepperPrefix)).toBe(true);
  });

  it("answers 'unavailable' (503) for any provider failure, keeping the provider's error as the cause", async () => {
    const customer = await createCustomer(await hashPassword(password));
    const providerError = new Error("CKR_DEVICE_REMOVED (test)");
    pepperFault.error = providerError;
    const error = await caught(authenticateWithPassword({ email: customer.email, password }, context));
    expect(error).toBeInstanceOf(BankError);
    expect((error as BankError).code).toBe("unavailable");
    expect((error as BankError).cause).toBe(providerError);
    const { httpStatusOf } = await import("@/lib/errors");
    expect(httpStatusOf[(error as BankError).code]).toBe(503);
    expect((await userRow(customer.userId)).failedSignInCount).toBe(0);
  });

  it("is not a wrong current password when changing the password, and changes nothing", async () => {
    const customer = await createCustomer(await hashPassword(password));
    const before = await userRow(customer.userId);
    pepperFault.error = tokenGone();
    const error = await caught(
      changePassword(customer.actor, { currentPassword: password, password: "A-brand-new-passphrase-93!" }),
    );
    expect((error as BankError).code).toBe("unavailable");
    expect(await userRow(customer.userId)).toEqual(before);
    const refusals = await database()
      .select({ action: auditEvents.action })
      .from(auditEvents)
      .where(and(eq(auditEvents.actorId, customer.userId), eq(auditEvents.action, "identity.password_change.refused")));
    expect(refusals).toEqual([]);
  });

  it("is not a wrong password when replacing the authenticator, and counts nothing towards a lock", async () => {
    const customer = await createCustomer(await hashPassword(password));
    pepperFault.error = tokenGone();
    for (let attempt = 1; attempt <= 6; attempt += 1) {
      const error = await caught(
        startAuthenticatorReplacement(customer.actor, { password: `wrong-${attempt}`, secondFactor: "123456" }),
      );
      expect((error as BankError).code).toBe("unavailable");
    }
    const row = await userRow(customer.userId);
    expect(row.failedSignInCount).toBe(0);
    expect(row.lockedUntil).toBeNull();
    expect(await signInOutcomes(customer.userId)).toEqual([]);
  });
});
