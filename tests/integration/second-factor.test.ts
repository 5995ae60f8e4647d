import crypto from "node:crypto";
import { and, eq, sql } from "drizzle-orm";
import { generate } from "otplib";
import { beforeAll, describe, expect, it } from "vitest";
import { database, databaseHandle } from "@/db/client";
import { applyMigrations } from "@/db/migrations";
import { auditEvents, outbox, recoveryCodes, sessions, signInEvents, signInTickets, stepUpConfirmations, users } from "@/db/schema";
import type { SessionActor } from "@/lib/auth/actor";
import { authenticateWithPassword } from "@/lib/auth/authenticate-with-password";
import { completeSignIn } from "@/lib/auth/complete-sign-in";
import { hashPassword } from "@/lib/auth/password";
import {
  regenerateMyRecoveryCodes,
  regenerateRecoveryCodes,
  remainingRecoveryCodes,
  useRecoveryCode,
} from "@/lib/auth/recovery-codes";
import {
  claimSignInTicket,
  completeTicketEnrolment,
  issueSignInTicket,
  readSignInTicket,
  startTicketEnrolment,
  verifyTicketSecondFactor,
} from "@/lib/auth/sign-in-tickets";
import { confirmStepUp, requireStepUp, requireStepUpForPayload, stepUpPayloadHash } from "@/lib/auth/step-up";
import { stepUpOperationHash } from "@/lib/auth/step-up-operations";
import { generateTotpSecret, totpSecretField, totpTimeStepAt, verifyTotpForUser } from "@/lib/auth/totp";
import { blindIndex, encryptField, normaliseEmail } from "@/lib/crypto";
import { BankError } from "@/lib/errors";
import { useIntegrationEnvironment } from "../helpers/integration-environment";

// Set before the application reads its configuration (env() is read once per process, on first use).
process.env.SIGN_IN_FAILURES_BEFORE_LOCK = "5";
process.env.LOCKOUT_DURATION_SECONDS = "600";
process.env.STEP_UP_WINDOW_SECONDS = "300";

useIntegrationEnvironment();

const context = { ipAddress: "198.51.100.23", userAgent: "second-factor-test/1.0" };
const password = "Quiet-lantern-harbour-47!";
let passwordHash: string;

beforeAll(async () => {
  await applyMigrations(databaseHandle());
  passwordHash = await hashPassword(password);
});

interface TestCustomer {
  userId: string;
  email: string;
  secret: string | null;
}

/** A verified customer, with an enrolled authenticator unless told otherwise. */
async function createCustomer(options: { enrolled?: boolean } = {}): Promise<TestCustomer> {
  const userId = crypto.randomUUID();
  const email = normaliseEmail(`mfa-${crypto.randomBytes(4).toString("hex")}@example.com`);
  const secret = options.enrolled === false ? null : generateTotpSecret();
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
      ...(secret
        ? {
            totpSecretCiphertext: await encryptField(secret, totpSecretField(userId), "mfa"),
            totpEnrolledAt: new Date(),
          }
        : {}),
    });
  return { userId, email, secret };
}

function secretOf(customer: TestCustomer): string {
  if (!customer.secret) throw new Error("this customer has no authenticator");
  return customer.secret;
}

/** The code an authenticator shows `offsetSteps` steps away from `now`. */
async function codeAt(secret: string, now: Date, offsetSteps = 0): Promise<string> {
  return generate({ secret, epoch: Math.floor(now.getTime() / 1000) + offsetSteps * 30 });
}

/** Six digits that are not the code of any step from two before to two after `now`. */
async function wrongCodeFor(secret: string, now: Date = new Date()): Promise<string> {
  const valid = new Set(await Promise.all([-2, -1, 0, 1, 2].map((offset) => codeAt(secret, now, offset))));
  for (const candidate of ["000000", "111111", "222222", "333333", "444444", "555555"]) {
    if (!valid.has(candidate)) return candidate;
  }
  throw new Error("could not find a wrong code");
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

async function expectBankError(promise: Promise<unknown>, code: string): Promise<BankError> {
  const error = await promise.then(
    () => null,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(BankError);
  expect((error as BankError).code).toBe(code);
  return error as BankError;
}

function browserBinding(): string {
  return crypto.randomBytes(32).toString("base64url");
}

async function openSession(customer: TestCustomer): Promise<SessionActor> {
  const sessionId = crypto.randomUUID();
  await database().insert(sessions).values({ id: sessionId, userId: customer.userId });
  return { kind: "customer", userId: customer.userId, role: "customer", sessionId, ...context };
}

describe("TOTP verification", () => {
  it.each([-1, 0, 1])("accepts the code of step %i relative to now and records that step", async (offset) => {
    const customer = await createCustomer();
    const now = new Date();
    const verification = await verifyTotpForUser(database(), customer.userId, await codeAt(secretOf(customer), now, offset), now);
    expect(verification).toEqual({ valid: true, timeStep: totpTimeStepAt(now) + offset });
    expect((await userRow(customer.userId)).totpLastUsedStep).toBe(totpTimeStepAt(now) + offset);
  });

  it.each([-2, 2])("refuses the code of step %i relative to now and records nothing", async (offset) => {
    const customer = await createCustomer();
    const now = new Date();
    const verification = await verifyTotpForUser(database(), customer.userId, await codeAt(secretOf(customer), now, offset), now);
    expect(verification).toEqual({ valid: false, reason: "wrong_code" });
    expect((await userRow(customer.userId)).totpLastUsedStep).toBeNull();
  });

  it.each(["12345", "1234567", "abcdef", " 123456", "12 345", "１２３４５６", ""])(
    "refuses the malformed code %j without looking at the secret",
    async (code) => {
      const customer = await createCustomer();
      await expect(verifyTotpForUser(database(), customer.userId, code)).resolves.toEqual({
        valid: false,
        reason: "malformed",
      });
    },
  );

  it("refuses a user without an authenticator", async () => {
    const customer = await createCustomer({ enrolled: false });
    await expect(verifyTotpForUser(database(), customer.userId, "123456")).resolves.toEqual({
      valid: false,
      reason: "not_enrolled",
    });
  });

  it("refuses the same TOTP code twice, and a code of an earlier step after a later one", async () => {
    const customer = await createCustomer();
    const now = new Date();
    const current = await codeAt(secretOf(customer), now);
    expect((await verifyTotpForUser(database(), customer.userId, current, now)).valid).toBe(true);
    expect(await verifyTotpForUser(database(), customer.userId, current, now)).toEqual({ valid: false, reason: "wrong_code" });
    const previous = await codeAt(secretOf(customer), now, -1);
    expect((await verifyTotpForUser(database(), customer.userId, previous, now)).valid).toBe(false);
    // The next step's code is still good once.
    const next = await codeAt(secretOf(customer), now, 1);
    expect((await verifyTotpForUser(database(), customer.userId, next, now)).valid).toBe(true);
    expect((await verifyTotpForUser(database(), customer.userId, next, now)).valid).toBe(false);
  });

  it.runIf(process.env.INTEGRATION_DATABASE === "postgres")(
    "accepts exactly one of ten parallel verifications of the same code",
    async () => {
      const customer = await createCustomer();
      const now = new Date();
      const code = await codeAt(secretOf(customer), now);
      const results = await Promise.all(
        Array.from({ length: 10 }, () => verifyTotpForUser(database(), customer.userId, code, now)),
      );
      expect(results.filter((result) => result.valid)).toHaveLength(1);
      expect((await userRow(customer.userId)).totpLastUsedStep).toBe(totpTimeStepAt(now));
    },
  );
});

describe("recovery codes", () => {
  it("makes ten distinct grouped codes and stores only their hashes", async () => {
    const customer = await createCustomer();
    const codes = await regenerateRecoveryCodes(database(), customer.userId);
    expect(codes).toHaveLength(10);
    expect(new Set(codes).size).toBe(10);
    for (const code of codes) expect(code).toMatch(/^[A-HJ-NP-Z2-9]{5}-[A-HJ-NP-Z2-9]{5}-[A-HJ-NP-Z2-9]{5}$/);
    const stored = JSON.stringify(
      await database().select().from(recoveryCodes).where(eq(recoveryCodes.userId, customer.userId)),
    );
    for (const code of codes) {
      expect(stored).not.toContain(code);
      expect(stored).not.toContain(code.replaceAll("-", ""));
    }
    expect(await remainingRecoveryCodes(customer.userId)).toBe(10);
  });

  it("accepts a code typed in lower case with spaces instead of dashes, once, and emails the owner", async () => {
    const customer = await createCustomer();
    const [first] = await regenerateRecoveryCodes(database(), customer.userId);
    if (!first) throw new Error("no code");
    const typed = ` ${first.toLowerCase().replaceAll("-", " ")} `;
    await expect(useRecoveryCode(database(), customer.userId, typed, context)).resolves.toEqual({ used: true, remaining: 9 });
    await expect(useRecoveryCode(database(), customer.userId, first, context)).resolves.toEqual({ used: false, reason: "wrong_code" });
    expect(await remainingRecoveryCodes(customer.userId)).toBe(9);
    expect(await templatesQueuedFor(customer.userId)).toEqual(["recovery_code_used"]);
    // The use is in the audit trail (once: the second, refused attempt records nothing here).
    const events = await database()
      .select({ ipAddress: auditEvents.ipAddress, details: auditEvents.details })
      .from(auditEvents)
      .where(and(eq(auditEvents.action, "auth.recovery_code.used"), eq(auditEvents.targetId, customer.userId)));
    expect(events).toEqual([{ ipAddress: context.ipAddress, details: { remaining: 9 } }]);
  });

  it("does not accept one customer's code for another customer", async () => {
    const owner = await createCustomer();
    const other = await createCustomer();
    const [code] = await regenerateRecoveryCodes(database(), owner.userId);
    await regenerateRecoveryCodes(database(), other.userId);
    await expect(useRecoveryCode(database(), other.userId, code ?? "", context)).resolves.toEqual({ used: false, reason: "wrong_code" });
    expect(await remainingRecoveryCodes(owner.userId)).toBe(10);
  });

  it("refuses malformed input without touching the database's codes", async () => {
    const customer = await createCustomer();
    await regenerateRecoveryCodes(database(), customer.userId);
    for (const input of ["", "ABCDE-FGHJK", "ABCDE-FGHJK-LMNPO", "ABCDE-FGHJK-LMNPQ-R"]) {
      await expect(useRecoveryCode(database(), customer.userId, input, context)).resolves.toEqual({ used: false, reason: "malformed" });
    }
    expect(await remainingRecoveryCodes(customer.userId)).toBe(10);
  });

  it("voids the whole old set when a new one is made", async () => {
    const customer = await createCustomer();
    const oldCodes = await regenerateRecoveryCodes(database(), customer.userId);
    const newCodes = await regenerateRecoveryCodes(database(), customer.userId);
    for (const code of oldCodes) {
      expect((await useRecoveryCode(database(), customer.userId, code, context)).used).toBe(false);
    }
    expect(await remainingRecoveryCodes(customer.userId)).toBe(10);
    expect((await useRecoveryCode(database(), customer.userId, newCodes[0] ?? "", context)).used).toBe(true);
  });

  it("tells the owner when two or fewer codes are left", async () => {
    const customer = await createCustomer();
    const codes = await regenerateRecoveryCodes(database(), customer.userId);
    for (const code of codes.slice(0, 7)) await useRecoveryCode(database(), customer.userId, code, context);
    expect(await templatesQueuedFor(customer.userId)).not.toContain("recovery_codes_low");
    await useRecoveryCode(database(), customer.userId, codes[7] ?? "", context);
    const templates = await templatesQueuedFor(customer.userId);
    expect(templates.filter((template) => template === "recovery_codes_low")).toHaveLength(1);
    expect(templates.filter((template) => template === "recovery_code_used")).toHaveLength(8);
  });

  it.runIf(process.env.INTEGRATION_DATABASE === "postgres")(
    "spends a code exactly once when ten requests present it at the same moment",
    async () => {
      const customer = await createCustomer();
      const [code] = await regenerateRecoveryCodes(database(), customer.userId);
      const results = await Promise.all(
        Array.from({ length: 10 }, () => useRecoveryCode(database(), customer.userId, code ?? "", context)),
      );
      expect(results.filter((result) => result.used)).toHaveLength(1);
      expect(await remainingRecoveryCodes(customer.userId)).toBe(9);
    },
  );
});

describe("sign-in tickets", () => {
  it("stores only hashes, cannot be claimed before the second factor, and is claimed once after it", async () => {
    const customer = await createCustomer();
    const binding = browserBinding();
    const { token, expiresAt } = await issueSignInTicket(database(), customer.userId, binding);
    expect(expiresAt.getTime() - Date.now()).toBeGreaterThan(290_000);
    expect(expiresAt.getTime() - Date.now()).toBeLessThanOrEqual(300_000);
    const stored = JSON.stringify(await database().select().from(signInTickets).where(eq(signInTickets.userId, customer.userId)));
    expect(stored).not.toContain(token);
    expect(stored).not.toContain(binding);

    expect(await readSignInTicket(token, binding)).toMatchObject({
      userId: customer.userId,
      totpEnrolled: true,
      enrolmentInProgress: false,
      secondFactorVerified: false,
    });
    expect(await claimSignInTicket(token, binding)).toBeNull();

    const code = await codeAt(secretOf(customer), new Date());
    await expect(verifyTicketSecondFactor(token, binding, { method: "totp", code }, context)).resolves.toEqual({
      verified: true,
      recoveryCodesRemaining: null,
    });
    expect(await claimSignInTicket(token, browserBinding())).toBeNull();
    expect(await claimSignInTicket(token, binding)).toEqual({ userId: customer.userId });
    expect(await claimSignInTicket(token, binding)).toBeNull();
    expect(await readSignInTicket(token, binding)).toBeNull();
  });

  it("refuses every step in another browser", async () => {
    const customer = await createCustomer();
    const binding = browserBinding();
    const { token } = await issueSignInTicket(database(), customer.userId, binding);
    const elsewhere = browserBinding();
    expect(await readSignInTicket(token, elsewhere)).toBeNull();
    const code = await codeAt(secretOf(customer), new Date());
    await expect(verifyTicketSecondFactor(token, elsewhere, { method: "totp", code }, context)).resolves.toEqual({
      verified: false,
      reason: "ticket_invalid",
    });
    // The code was not spent by the refused attempt: the right browser can still use it.
    expect((await verifyTicketSecondFactor(token, binding, { method: "totp", code }, context)).verified).toBe(true);
  });

  it("stops working once expired", async () => {
    const customer = await createCustomer();
    const binding = browserBinding();
    const { token } = await issueSignInTicket(database(), customer.userId, binding);
    await verifyTicketSecondFactor(token, binding, { method: "totp", code: await codeAt(secretOf(customer), new Date()) }, context);
    await database()
      .update(signInTickets)
      .set({ expiresAt: sql`created_at + interval '1 millisecond'` })
      .where(eq(signInTickets.userId, customer.userId));
    expect(await readSignInTicket(token, binding)).toBeNull();
    expect(await claimSignInTicket(token, binding)).toBeNull();
    const later = await codeAt(secretOf(customer), new Date(), 1);
    await expect(verifyTicketSecondFactor(token, binding, { method: "totp", code: later }, context)).resolves.toEqual({
      verified: false,
      reason: "ticket_invalid",
    });
  });

  it("accepts a recovery code as the second factor, reports how many are left and ends a run of failures", async () => {
    const customer = await createCustomer();
    const codes = await regenerateRecoveryCodes(database(), customer.userId);
    const binding = browserBinding();
    const { token } = await issueSignInTicket(database(), customer.userId, binding);
    await verifyTicketSecondFactor(token, binding, { method: "recovery_code", code: "AAAAA-AAAAA-AAAAA" }, context);
    expect((await userRow(customer.userId)).failedSignInCount).toBe(1);
    await expect(
      verifyTicketSecondFactor(token, binding, { method: "recovery_code", code: codes[3] ?? "" }, context),
    ).resolves.toEqual({ verified: true, recoveryCodesRemaining: 9 });
    expect((await userRow(customer.userId)).failedSignInCount).toBe(0);
    expect(await claimSignInTicket(token, binding)).toEqual({ userId: customer.userId });
  });

  it("enrols a customer without an authenticator, with a first set of recovery codes", async () => {
    const customer = await createCustomer({ enrolled: false });
    const binding = browserBinding();
    const { token } = await issueSignInTicket(database(), customer.userId, binding);
    expect(await readSignInTicket(token, binding)).toMatchObject({ totpEnrolled: false, enrolmentInProgress: false });
    const provisioning = await startTicketEnrolment(token, binding);
    if (!provisioning) throw new Error("enrolment did not start");
    expect(provisioning.uri).toMatch(/^otpauth:\/\/totp\/Harbour%20Bank:/);
    expect(provisioning.qrCodeDataUrl).toMatch(/^data:image\/svg\+xml;base64,/);
    const secret = new URL(provisioning.uri).searchParams.get("secret") ?? "";
    expect(secret).toMatch(/^[A-Z2-7]{32}$/);
    expect(provisioning.secretForManualEntry.replaceAll(" ", "")).toBe(secret);
    const [ticketRow] = await database().select().from(signInTickets).where(eq(signInTickets.userId, customer.userId));
    expect(ticketRow?.pendingTotpSecretCiphertext).toMatch(/^v1:/);
    expect(JSON.stringify(ticketRow)).not.toContain(secret);

    const now = new Date();
    await expect(completeTicketEnrolment(token, binding, await wrongCodeFor(secret, now), context, now)).resolves.toEqual({
      enrolled: false,
      reason: "wrong_code",
    });
    expect((await userRow(customer.userId)).failedSignInCount).toBe(0);

    const code = await codeAt(secret, now);
    const result = await completeTicketEnrolment(token, binding, code, context, now);
    if (!result.enrolled) throw new Error(`enrolment failed: ${result.reason}`);
    expect(result.recoveryCodes).toHaveLength(10);
    const user = await userRow(customer.userId);
    expect(user.totpEnrolledAt).toBeInstanceOf(Date);
    expect(user.totpLastUsedStep).toBe(totpTimeStepAt(now));
    // The confirming code cannot be used again.
    expect((await verifyTotpForUser(database(), customer.userId, code, now)).valid).toBe(false);
    expect(await readSignInTicket(token, binding)).toMatchObject({ secondFactorVerified: true, enrolmentInProgress: false });
    expect(await claimSignInTicket(token, binding)).toEqual({ userId: customer.userId });
  });

  it("never lets a password-only ticket put a new authenticator on an enrolled account", async () => {
    const customer = await createCustomer();
    const binding = browserBinding();
    const { token } = await issueSignInTicket(database(), customer.userId, binding);
    expect(await startTicketEnrolment(token, binding)).toBeNull();
    const before = (await userRow(customer.userId)).totpSecretCiphertext;
    await expect(completeTicketEnrolment(token, binding, "123456", context)).resolves.toEqual({
      enrolled: false,
      reason: "ticket_invalid",
    });
    expect((await userRow(customer.userId)).totpSecretCiphertext).toBe(before);
  });

  it("counts wrong codes towards the lock, ends the ticket when the lock begins, and then checks no code", async () => {
    const customer = await createCustomer();
    const binding = browserBinding();
    const { token } = await issueSignInTicket(database(), customer.userId, binding);
    const wrong = await wrongCodeFor(secretOf(customer));
    for (let attempt = 1; attempt <= 4; attempt += 1) {
      await expect(verifyTicketSecondFactor(token, binding, { method: "totp", code: wrong }, context)).resolves.toEqual({
        verified: false,
        reason: "wrong_code",
      });
    }
    // Malformed input is not a guess and is not counted.
    await verifyTicketSecondFactor(token, binding, { method: "totp", code: "12ab" }, context);
    expect((await userRow(customer.userId)).failedSignInCount).toBe(4);
    await expect(verifyTicketSecondFactor(token, binding, { method: "totp", code: wrong }, context)).resolves.toEqual({
      verified: false,
      reason: "locked",
    });
    const locked = await userRow(customer.userId);
    expect(locked.lockedUntil?.getTime()).toBeGreaterThan(Date.now() + 590_000);
    expect(await readSignInTicket(token, binding)).toBeNull();
    expect(await templatesQueuedFor(customer.userId)).toContain("account_locked");
    const outcomes = await database()
      .select({ outcome: signInEvents.outcome })
      .from(signInEvents)
      .where(eq(signInEvents.userId, customer.userId));
    expect(outcomes.filter((row) => row.outcome === "second_factor_failed")).toHaveLength(4);
    expect(outcomes.filter((row) => row.outcome === "locked")).toHaveLength(1);

    // A new ticket during the lock: even the right code is not checked, and the lock is not extended.
    const second = await issueSignInTicket(database(), customer.userId, binding);
    const right = await codeAt(secretOf(customer), new Date());
    await expect(
      verifyTicketSecondFactor(second.token, binding, { method: "totp", code: right }, context),
    ).resolves.toEqual({ verified: false, reason: "locked" });
    expect((await userRow(customer.userId)).lockedUntil).toEqual(locked.lockedUntil);
    expect((await userRow(customer.userId)).totpLastUsedStep).toBeNull();
  });
});

describe("step-up", () => {
  it("requires a second factor within the window, and a confirmed code provides it", async () => {
    const customer = await createCustomer();
    const actor = await openSession(customer);
    await expectBankError(requireStepUp(actor, "test"), "step_up_required");
    const now = new Date();
    await confirmStepUp(actor, await codeAt(secretOf(customer), now), undefined, { now });
    await requireStepUp(actor, "test", { now });
    await requireStepUp(actor, "test", { now: new Date(now.getTime() + 299_000) });
    await expectBankError(requireStepUp(actor, "test", { now: new Date(now.getTime() + 301_000) }), "step_up_required");
    await expectBankError(requireStepUp(actor, "test", { now: new Date(now.getTime() + 61_000), withinSeconds: 60 }), "step_up_required");
    // Another session of the same customer has not stepped up.
    await expectBankError(requireStepUp(await openSession(customer), "test", { now }), "step_up_required");
  });

  it("answers step_up_required with the app's message and HTTP 403", async () => {
    const customer = await createCustomer();
    const error = await expectBankError(requireStepUp(await openSession(customer), "test"), "step_up_required");
    expect(error.userMessage).toBe("Confirm with a code from your authenticator app.");
    const { httpStatusOf } = await import("@/lib/errors");
    expect(httpStatusOf[error.code]).toBe(403);
  });

  it("refuses a code already used, including one used to step up before", async () => {
    const customer = await createCustomer();
    const actor = await openSession(customer);
    const now = new Date();
    const code = await codeAt(secretOf(customer), now);
    await confirmStepUp(actor, code, undefined, { now });
    await expectBankError(confirmStepUp(actor, code, undefined, { now }), "invalid_input");
  });

  it("binds a confirmation to its payload, uses it once, and only within the window", async () => {
    const customer = await createCustomer();
    const actor = await openSession(customer);
    const payloadA = stepUpPayloadHash({ action: "transfer", toAccountId: "a", amountMinor: 10_000n });
    const payloadB = stepUpPayloadHash({ action: "transfer", toAccountId: "a", amountMinor: 10_001n });
    expect(payloadA).not.toBe(payloadB);
    const now = new Date();
    await confirmStepUp(actor, await codeAt(secretOf(customer), now), payloadA, { now });
    // A payload-bound confirmation is not a session-wide step-up.
    await expectBankError(requireStepUp(actor, "test", { now }), "step_up_required");
    await expectBankError(requireStepUpForPayload(actor, payloadB, { now }), "step_up_required");
    await requireStepUpForPayload(actor, payloadA, { now });
    await expectBankError(requireStepUpForPayload(actor, payloadA, { now }), "step_up_required");

    // A second confirmation for A, too old by the time it is used.
    const later = new Date(now.getTime() + 30_000);
    await confirmStepUp(actor, await codeAt(secretOf(customer), later), payloadA, { now: later });
    await expectBankError(
      requireStepUpForPayload(actor, payloadA, { now: new Date(later.getTime() + 301_000) }),
      "step_up_required",
    );
    // Nor can another session (even the same customer's) spend it.
    await expectBankError(requireStepUpForPayload(await openSession(customer), payloadA, { now: later }), "step_up_required");
    const confirmations = await database()
      .select()
      .from(stepUpConfirmations)
      .where(and(eq(stepUpConfirmations.sessionId, actor.sessionId), eq(stepUpConfirmations.payloadHash, payloadA)));
    expect(confirmations.map((row) => row.usedAt === null).sort()).toEqual([false, true]);
  });

  it.runIf(process.env.INTEGRATION_DATABASE === "postgres")(
    "lets exactly one of ten parallel requests spend one confirmation",
    async () => {
      const customer = await createCustomer();
      const actor = await openSession(customer);
      const payload = stepUpPayloadHash({ action: "transfer", amountMinor: 1n });
      const now = new Date();
      await confirmStepUp(actor, await codeAt(secretOf(customer), now), payload, { now });
      const results = await Promise.allSettled(
        Array.from({ length: 10 }, () => requireStepUpForPayload(actor, payload, { now })),
      );
      expect(results.filter((result) => result.status === "fulfilled")).toHaveLength(1);
    },
  );

  it("locks the account after three wrong passwords and two wrong step-up codes", async () => {
    const customer = await createCustomer();
    const actor = await openSession(customer);
    for (let attempt = 1; attempt <= 3; attempt += 1) {
      expect(await authenticateWithPassword({ email: customer.email, password: `wrong-${attempt}` }, context)).toBeNull();
    }
    const wrong = await wrongCodeFor(secretOf(customer));
    const refusal = await expectBankError(confirmStepUp(actor, wrong), "invalid_input");
    expect(refusal.fieldErrors?.code).toHaveLength(1);
    expect((await userRow(customer.userId)).lockedUntil).toBeNull();
    await expectBankError(confirmStepUp(actor, wrong), "unauthenticated");
    expect((await userRow(customer.userId)).lockedUntil?.getTime()).toBeGreaterThan(Date.now() + 590_000);
    expect(await templatesQueuedFor(customer.userId)).toContain("account_locked");
    // While locked, even the right code is refused and not spent.
    await expectBankError(confirmStepUp(actor, await codeAt(secretOf(customer), new Date())), "unauthenticated");
    expect((await userRow(customer.userId)).totpLastUsedStep).toBeNull();
    const outcomes = await database()
      .select({ outcome: signInEvents.outcome })
      .from(signInEvents)
      .where(eq(signInEvents.userId, customer.userId));
    expect(outcomes.map((row) => row.outcome).sort()).toEqual(
      ["locked", "locked", "second_factor_failed", "wrong_password", "wrong_password", "wrong_password"].sort(),
    );
  });

  it("refuses a malformed step-up code without counting it", async () => {
    const customer = await createCustomer();
    const actor = await openSession(customer);
    await expectBankError(confirmStepUp(actor, "12 34"), "invalid_input");
    expect((await userRow(customer.userId)).failedSignInCount).toBe(0);
  });

  it("needs a code confirmed for this very operation, once, to make new recovery codes", async () => {
    const customer = await createCustomer();
    const actor = await openSession(customer);
    const now = new Date();
    await expectBankError(regenerateMyRecoveryCodes(actor), "step_up_required");
    expect(await remainingRecoveryCodes(customer.userId)).toBe(0);
    // A session-wide step-up (what a sign-in's second factor sets) is not enough: the code must be asked for it.
    await confirmStepUp(actor, await codeAt(secretOf(customer), now), undefined, { now });
    await expectBankError(regenerateMyRecoveryCodes(actor), "step_up_required");
    await confirmStepUp(actor, await codeAt(secretOf(customer), now, 1), stepUpOperationHash("regenerate_recovery_codes", actor), { now });
    expect(await regenerateMyRecoveryCodes(actor)).toHaveLength(10);
    expect(await remainingRecoveryCodes(customer.userId)).toBe(10);
    // Single use: the confirmation is spent.
    await expectBankError(regenerateMyRecoveryCodes(actor), "step_up_required");
  });
});

describe("completing a sign-in", () => {
  it("turns a verified ticket into one new session with second_factor_at set, once", async () => {
    const customer = await createCustomer();
    const binding = browserBinding();
    const ticket = await issueSignInTicket(database(), customer.userId, binding);
    // Not before the second factor.
    expect(await completeSignIn({ token: ticket.token, browserBinding: binding }, undefined, context)).toBeNull();
    const now = new Date();
    const verification = await verifyTicketSecondFactor(
      ticket.token,
      binding,
      { method: "totp", code: await codeAt(secretOf(customer), now) },
      context,
      now,
    );
    expect(verification.verified).toBe(true);
    // Not from another browser.
    expect(await completeSignIn({ token: ticket.token, browserBinding: browserBinding() }, undefined, context)).toBeNull();
    const completed = await completeSignIn({ token: ticket.token, browserBinding: binding }, undefined, context);
    expect(completed).toMatchObject({ userId: customer.userId, showLockNotice: false });
    const [session] = await database().select().from(sessions).where(eq(sessions.id, completed?.sessionId ?? ""));
    expect(session?.userId).toBe(customer.userId);
    expect(session?.secondFactorAt).not.toBeNull();
    const outcomes = await database()
      .select({ outcome: signInEvents.outcome })
      .from(signInEvents)
      .where(eq(signInEvents.userId, customer.userId));
    expect(outcomes.map((row) => row.outcome)).toEqual(["succeeded"]);
    // Used once: the same ticket never makes a second session.
    expect(await completeSignIn({ token: ticket.token, browserBinding: binding }, undefined, context)).toBeNull();
  });
});
