import crypto from "node:crypto";
import { eq } from "drizzle-orm";
import { generate } from "otplib";
import { beforeAll, describe, expect, it } from "vitest";
import { database, databaseHandle } from "@/db/client";
import { applyMigrations } from "@/db/migrations";
import { outbox, sessions, users } from "@/db/schema";
import type { SessionActor } from "@/lib/auth/actor";
import {
  confirmAuthenticatorReplacement,
  mySecondFactorStatus,
  pendingReplacementLifetimeSeconds,
  startAuthenticatorReplacement,
} from "@/lib/auth/authenticator-replacement";
import { hashPassword } from "@/lib/auth/password";
import { regenerateRecoveryCodes } from "@/lib/auth/recovery-codes";
import { confirmStepUp } from "@/lib/auth/step-up";
import { generateTotpSecret, totpSecretField, verifyTotpForUser } from "@/lib/auth/totp";
import { blindIndex, encryptField, normaliseEmail } from "@/lib/crypto";
import { BankError } from "@/lib/errors";
import { useIntegrationEnvironment } from "../helpers/integration-environment";

// Set before the application reads its configuration (env() is read once per process, on first use).
process.env.SIGN_IN_FAILURES_BEFORE_LOCK = "5";
process.env.LOCKOUT_DURATION_SECONDS = "600";
process.env.STEP_UP_WINDOW_SECONDS = "300";

useIntegrationEnvironment();

const context = { ipAddress: "198.51.100.24", userAgent: "authenticator-replacement-test/1.0" };
const password = "Quiet-lantern-harbour-47!";
let passwordHash: string;

beforeAll(async () => {
  await applyMigrations(databaseHandle());
  passwordHash = await hashPassword(password);
});

interface Enrolled {
  actor: SessionActor;
  secret: string;
}

/** A verified customer with an enrolled authenticator and an open session. */
async function enrolledCustomer(): Promise<Enrolled> {
  const userId = crypto.randomUUID();
  const email = normaliseEmail(`replace-${crypto.randomBytes(4).toString("hex")}@example.com`);
  const secret = generateTotpSecret();
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
      totpSecretCiphertext: await encryptField(secret, totpSecretField(userId), "mfa"),
      totpEnrolledAt: new Date(),
    });
  const sessionId = crypto.randomUUID();
  await database().insert(sessions).values({ id: sessionId, userId });
  return { actor: { kind: "customer", userId, role: "customer", sessionId, ...context }, secret };
}

async function codeAt(secret: string, now: Date, offsetSteps = 0): Promise<string> {
  return generate({ secret, epoch: Math.floor(now.getTime() / 1000) + offsetSteps * 30 });
}

/** The secret as an authenticator app would read it from the text shown (groups of four, spaces removed). */
function typedSecret(secretForManualEntry: string): string {
  return secretForManualEntry.replace(/\s+/g, "");
}

async function expectBankError(promise: Promise<unknown>, code: string): Promise<BankError> {
  const error = await promise.then(
    () => null,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(BankError);
  expect((error as BankError).code).toBe(code);
  return error as BankError;
}

async function userRow(userId: string) {
  const [user] = await database().select().from(users).where(eq(users.id, userId));
  if (!user) throw new Error("user vanished");
  return user;
}

async function templatesQueuedFor(userId: string): Promise<string[]> {
  const rows = await database().select({ template: outbox.template }).from(outbox).where(eq(outbox.userId, userId));
  return rows.map((row) => row.template);
}

describe("replacing the authenticator", () => {
  it("with password and a current code: keeps a pending secret, then the new one replaces the old and the owner is emailed", async () => {
    const { actor, secret } = await enrolledCustomer();
    const now = new Date();
    const provisioning = await startAuthenticatorReplacement(actor, { password, secondFactor: await codeAt(secret, now) }, now);
    expect(provisioning.qrCodeDataUrl).toMatch(/^data:image\/svg\+xml;base64,/);
    const newSecret = typedSecret(provisioning.secretForManualEntry);
    expect(newSecret).not.toBe(secret);
    const pending = await userRow(actor.userId);
    expect(pending.pendingTotpSecretCiphertext).not.toBeNull();
    expect(pending.pendingTotpCreatedAt?.getTime()).toBe(now.getTime());
    // Until it is confirmed, the old authenticator is still the one in force.
    expect(pending.totpSecretCiphertext).not.toBeNull();
    expect(await templatesQueuedFor(actor.userId)).not.toContain("authenticator_replaced");

    await confirmAuthenticatorReplacement(actor, await codeAt(newSecret, now), now);
    const replaced = await userRow(actor.userId);
    expect(replaced.pendingTotpSecretCiphertext).toBeNull();
    expect(replaced.pendingTotpCreatedAt).toBeNull();
    expect(await templatesQueuedFor(actor.userId)).toContain("authenticator_replaced");

    // The old authenticator's codes stop working, for any later step; the new one's work.
    const later = new Date(now.getTime() + 30_000);
    expect(await verifyTotpForUser(database(), actor.userId, await codeAt(secret, later), later)).toEqual({
      valid: false,
      reason: "wrong_code",
    });
    await expectBankError(confirmStepUp(actor, await codeAt(secret, later), undefined, { now: later }), "invalid_input");
    await confirmStepUp(actor, await codeAt(newSecret, later), undefined, { now: later });
    expect((await mySecondFactorStatus(actor)).enrolledAt).not.toBeNull();
  });

  it("accepts a recovery code instead of a code, and spends it", async () => {
    const { actor } = await enrolledCustomer();
    const [recoveryCode] = await regenerateRecoveryCodes(database(), actor.userId);
    if (!recoveryCode) throw new Error("no recovery code made");
    await startAuthenticatorReplacement(actor, { password, secondFactor: recoveryCode });
    expect((await mySecondFactorStatus(actor)).recoveryCodesLeft).toBe(9);
    expect(await templatesQueuedFor(actor.userId)).toContain("recovery_code_used");
    // The same recovery code does not work twice.
    await expectBankError(startAuthenticatorReplacement(actor, { password, secondFactor: recoveryCode }), "invalid_input");
  });

  it("refuses a wrong password or a wrong code, counts both towards the lock, and keeps no pending secret", async () => {
    const { actor, secret } = await enrolledCustomer();
    const now = new Date();
    const wrongPassword = await expectBankError(
      startAuthenticatorReplacement(actor, { password: "Not-the-password-1!", secondFactor: await codeAt(secret, now) }, now),
      "invalid_input",
    );
    expect(wrongPassword.fieldErrors?.password).toBeDefined();
    const wrongCode = (await codeAt(secret, now)) === "000000" ? "111111" : "000000";
    const wrongFactor = await expectBankError(
      startAuthenticatorReplacement(actor, { password, secondFactor: wrongCode }, now),
      "invalid_input",
    );
    expect(wrongFactor.fieldErrors?.code).toBeDefined();
    const row = await userRow(actor.userId);
    expect(row.failedSignInCount).toBe(2);
    expect(row.pendingTotpSecretCiphertext).toBeNull();
    // The valid code was not spent by the attempt with the wrong password: it still starts a replacement.
    await startAuthenticatorReplacement(actor, { password, secondFactor: await codeAt(secret, now) }, now);
    expect((await userRow(actor.userId)).failedSignInCount).toBe(0);
  });

  it("expires a pending secret after ten minutes and keeps the old authenticator", async () => {
    const { actor, secret } = await enrolledCustomer();
    const started = new Date();
    const provisioning = await startAuthenticatorReplacement(actor, { password, secondFactor: await codeAt(secret, started) }, started);
    const newSecret = typedSecret(provisioning.secretForManualEntry);
    const tooLate = new Date(started.getTime() + (pendingReplacementLifetimeSeconds + 1) * 1000);
    const error = await expectBankError(confirmAuthenticatorReplacement(actor, await codeAt(newSecret, tooLate), tooLate), "invalid_input");
    expect(error.userMessage).toMatch(/expired/);
    const row = await userRow(actor.userId);
    expect(row.pendingTotpSecretCiphertext).toBeNull();
    expect(await templatesQueuedFor(actor.userId)).not.toContain("authenticator_replaced");
    // The old authenticator still works.
    const verification = await verifyTotpForUser(database(), actor.userId, await codeAt(secret, tooLate), tooLate);
    expect(verification.valid).toBe(true);
  });

  it("refuses a wrong first code from the new authenticator without replacing anything", async () => {
    const { actor, secret } = await enrolledCustomer();
    const now = new Date();
    const provisioning = await startAuthenticatorReplacement(actor, { password, secondFactor: await codeAt(secret, now) }, now);
    const newSecret = typedSecret(provisioning.secretForManualEntry);
    // A code of the old authenticator is not a code of the new one.
    const oldCode = await codeAt(secret, now, 1);
    const newCodes = await Promise.all([-1, 0, 1].map((offset) => codeAt(newSecret, now, offset)));
    if (!newCodes.includes(oldCode)) {
      await expectBankError(confirmAuthenticatorReplacement(actor, oldCode, now), "invalid_input");
    }
    expect((await userRow(actor.userId)).pendingTotpSecretCiphertext).not.toBeNull();
    await expectBankError(confirmAuthenticatorReplacement(actor, "12345", now), "invalid_input");
    expect(await templatesQueuedFor(actor.userId)).not.toContain("authenticator_replaced");
  });

  it("has nothing to confirm without a started replacement", async () => {
    const { actor, secret } = await enrolledCustomer();
    await expectBankError(confirmAuthenticatorReplacement(actor, await codeAt(secret, new Date())), "invalid_input");
  });
});
