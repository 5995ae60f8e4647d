/**
 * Does a sign-in for an email nobody has take as long as a wrong password for a real account? If not, response
 * times tell an attacker which addresses bank here. This benchmark answers with numbers:
 *
 *   npx tsx --conditions=react-server bench/sign-in-timing.ts [tries]
 *
 * It is self-contained: a fresh PGlite database and keyring in a temporary folder (removed afterwards),
 * migrated, with one customer. It then calls `authenticateWithPassword` — the password step the sign-in action calls — for
 * an unknown email and for the customer's email with a wrong password, 200 times each by default, interleaved
 * in a random order per pair, and prints both medians and their ratio (1.00 means indistinguishable).
 *
 * Lockout would otherwise lock the customer after a few wrong passwords and turn the measured path into the
 * "locked" path, so the failure counter is reset between tries, outside the timed section.
 */
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { eq } from "drizzle-orm";
import { createKeyringFile } from "@/lib/crypto/keyring-format";

const temporaryRoot = fs.mkdtempSync(path.join(os.tmpdir(), "bank-sign-in-timing-"));

// The configuration is read once, on first use, so everything the application reads is set before any
// application module is imported. Variables that could point it at a real database or keyring are removed.
for (const name of ["DATABASE_URL", "REDIS_URL", "KEY_PROVIDER", "PKCS11_MODULE", "PKCS11_TOKEN_LABEL", "PKCS11_PIN", "PKCS11_PIN_FILE"]) {
  Reflect.deleteProperty(process.env, name);
}
process.env.DATA_DIR = path.join(temporaryRoot, "data");
process.env.KEYRING_PATH = path.join(temporaryRoot, "keys", "keyring.json");
process.env.KEY_PROVIDER = "local";
process.env.AUTH_SECRET = crypto.randomBytes(36).toString("base64url");
process.env.LOG_LEVEL = "silent";

function median(values: readonly number[]): number {
  const sorted = [...values].sort((left, right) => left - right);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[middle] ?? Number.NaN) : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
}

function percentile(values: readonly number[], fraction: number): number {
  const sorted = [...values].sort((left, right) => left - right);
  return sorted[Math.min(sorted.length - 1, Math.floor(fraction * sorted.length))] ?? Number.NaN;
}

async function main(): Promise<void> {
  const requested = Number.parseInt(process.argv[2] ?? "", 10);
  const tries = Number.isInteger(requested) && requested > 0 ? requested : 200;

  if ((await createKeyringFile(process.env.KEYRING_PATH ?? "")) !== "created") throw new Error("expected a brand-new keyring");
  const { closeDatabase, database, databaseHandle } = await import("@/db/client");
  const { applyMigrations } = await import("@/db/migrations");
  const { users } = await import("@/db/schema");
  const { hashPassword, currentArgon2Parameters, passwordHashingLoad } = await import("@/lib/auth/password");
  const { authenticateWithPassword } = await import("@/lib/auth/authenticate-with-password");
  const { blindIndex, encryptField, normaliseEmail } = await import("@/lib/crypto");

  try {
    await applyMigrations(databaseHandle());
    const db = database();
    const userId = crypto.randomUUID();
    const email = "timing.customer@example.com";
    const password = `Timing-${crypto.randomBytes(12).toString("base64url")}!`;
    await db.insert(users).values({
      id: userId,
      role: "customer",
      emailCiphertext: await encryptField(normaliseEmail(email), { table: "users", column: "email", rowId: userId }),
      emailBlindIndex: await blindIndex("email", normaliseEmail(email)),
      legalNameCiphertext: await encryptField("Timing Customer", { table: "users", column: "legal_name", rowId: userId }),
      passwordHash: await hashPassword(password),
      emailVerifiedAt: new Date(),
      termsAcceptedAt: new Date(),
    });
    const context = { ipAddress: "192.0.2.10", userAgent: "sign-in-timing bench" };

    // Keeps the wrong-password path the one measured, whatever the lockout threshold is.
    const resetLockout = () =>
      db.update(users).set({ failedSignInCount: 0, lockedUntil: null }).where(eq(users.id, userId));

    const timeUnknown = async (attempt: number): Promise<number> => {
      const started = performance.now();
      const outcome = await authenticateWithPassword({ email: `nobody.${attempt}@example.com`, password }, context);
      const elapsed = performance.now() - started;
      if (outcome !== null) throw new Error("an unknown email signed in");
      return elapsed;
    };
    const timeWrongPassword = async (attempt: number): Promise<number> => {
      await resetLockout();
      const started = performance.now();
      const outcome = await authenticateWithPassword({ email, password: `${password}${attempt}` }, context);
      const elapsed = performance.now() - started;
      if (outcome !== null) throw new Error("a wrong password signed in");
      return elapsed;
    };

    // The right password must work, or the wrong-password path would be measuring something else.
    await resetLockout();
    if ((await authenticateWithPassword({ email, password }, context))?.userId !== userId) {
      throw new Error("the customer cannot sign in with the right password");
    }

    for (let warmUp = 0; warmUp < 10; warmUp += 1) {
      await timeUnknown(-warmUp - 1);
      await timeWrongPassword(-warmUp - 1);
    }

    const unknown: number[] = [];
    const wrongPassword: number[] = [];
    for (let attempt = 0; attempt < tries; attempt += 1) {
      // A random order within each pair, so that neither path always runs on a freshly warmed cache.
      if (crypto.randomInt(2) === 0) {
        unknown.push(await timeUnknown(attempt));
        wrongPassword.push(await timeWrongPassword(attempt));
      } else {
        wrongPassword.push(await timeWrongPassword(attempt));
        unknown.push(await timeUnknown(attempt));
      }
    }

    const { memoryCost, timeCost, parallelism } = currentArgon2Parameters;
    const unknownMedian = median(unknown);
    const wrongMedian = median(wrongPassword);
    process.stdout.write(
      `authenticateWithPassword on PGlite, argon2id m=${memoryCost},t=${timeCost},p=${parallelism}, ` +
        `hash concurrency ${passwordHashingLoad().limit}, ${tries} tries each, interleaved\n`,
    );
    process.stdout.write(
      `unknown email:           median ${unknownMedian.toFixed(2)} ms  (p10 ${percentile(unknown, 0.1).toFixed(2)}, p90 ${percentile(unknown, 0.9).toFixed(2)})\n`,
    );
    process.stdout.write(
      `known email, wrong pass: median ${wrongMedian.toFixed(2)} ms  (p10 ${percentile(wrongPassword, 0.1).toFixed(2)}, p90 ${percentile(wrongPassword, 0.9).toFixed(2)})\n`,
    );
    process.stdout.write(`ratio unknown / wrong password: ${(unknownMedian / wrongMedian).toFixed(3)}\n`);
  } finally {
    await closeDatabase();
    fs.rmSync(temporaryRoot, { recursive: true, force: true });
  }
}

await main();
