/**
 * The business counters move where the outcome is decided: real sign-ins, lockouts and transfers through the
 * data layer on this file's own database, and the audit sealer's lag before and after a sealing run.
 */
import crypto from "node:crypto";
import { generate } from "otplib";
import { beforeAll, describe, expect, it } from "vitest";
import { database, databaseHandle } from "@/db/client";
import { applyMigrations } from "@/db/migrations";
import { users } from "@/db/schema";
import { measureAuditSealingLag } from "@/lib/audit/audit-sealing-lag";
import { sealAuditEvents } from "@/lib/audit/seal-audit-events";
import { authenticateWithPassword } from "@/lib/auth/authenticate-with-password";
import { completeSignIn } from "@/lib/auth/complete-sign-in";
import { hashPassword } from "@/lib/auth/password";
import { issueSignInTicket, verifyTicketSecondFactor } from "@/lib/auth/sign-in-tickets";
import { generateTotpSecret, totpSecretField } from "@/lib/auth/totp";
import { blindIndex, encryptField, normaliseEmail } from "@/lib/crypto";
import { postCustomerTransfer } from "@/lib/ledger/post-transfer";
import { metrics } from "@/lib/metrics/registry";
import { createTestCustomer, openFundedAccount } from "../helpers/ledger-fixtures";
import { transferRequest } from "../helpers/transfer-fixtures";
import { useIntegrationEnvironment } from "../helpers/integration-environment";

// Set before the application reads its configuration (env() is read once per process, on first use).
process.env.SIGN_IN_FAILURES_BEFORE_LOCK = "3";
process.env.LOCKOUT_DURATION_SECONDS = "600";

useIntegrationEnvironment();

const context = { ipAddress: "198.51.100.77", userAgent: "metrics-test/1.0" };
const password = "Amber-orchard-lantern-93!";

beforeAll(async () => {
  await applyMigrations(databaseHandle());
});

/** The current value of one series of a counter or gauge (0 when the series does not exist yet). */
async function valueOf(
  metric: { get(): Promise<{ values: { labels: Record<string, string | number | undefined>; value: number }[] }> },
  labels: Record<string, string> = {},
): Promise<number> {
  const { values } = await metric.get();
  const series = values.find((value) => Object.entries(labels).every(([name, expected]) => value.labels[name] === expected));
  return series?.value ?? 0;
}

async function createSignInCustomer(): Promise<{ userId: string; email: string; secret: string }> {
  const userId = crypto.randomUUID();
  const email = normaliseEmail(`metrics-${crypto.randomBytes(4).toString("hex")}@example.com`);
  const secret = generateTotpSecret();
  await database()
    .insert(users)
    .values({
      id: userId,
      role: "customer",
      emailCiphertext: await encryptField(email, { table: "users", column: "email", rowId: userId }),
      emailBlindIndex: await blindIndex("email", email),
      legalNameCiphertext: await encryptField("Morgan Example", { table: "users", column: "legal_name", rowId: userId }),
      passwordHash: await hashPassword(password),
      emailVerifiedAt: new Date(),
      termsAcceptedAt: new Date(),
      totpSecretCiphertext: await encryptField(secret, totpSecretField(userId), "mfa"),
      totpEnrolledAt: new Date(),
    });
  return { userId, email, secret };
}

describe("sign-in and lockout counters", () => {
  it("count each outcome of real sign-in attempts, and the lock they cause", async () => {
    const { signInOutcomes, lockouts } = metrics();
    const outcomes = ["success", "password_verified", "malformed", "unknown_account", "wrong_password", "locked", "second_factor_failed"];
    const before = Object.fromEntries(await Promise.all(outcomes.map(async (outcome) => [outcome, await valueOf(signInOutcomes, { outcome })])));
    const lockoutsBefore = await valueOf(lockouts, { stage: "sign_in" });
    const customer = await createSignInCustomer();

    // A complete sign-in: password, then a wrong code, then the right one, then the session.
    const authenticated = await authenticateWithPassword({ email: customer.email, password }, context);
    expect(authenticated?.userId).toBe(customer.userId);
    const binding = crypto.randomBytes(32).toString("base64url");
    const { token } = await issueSignInTicket(database(), customer.userId, binding);
    const rightCode = await generate({ secret: customer.secret, epoch: Math.floor(Date.now() / 1000) });
    const wrongCode = rightCode === "000000" ? "111111" : "000000";
    expect(await verifyTicketSecondFactor(token, binding, { method: "totp", code: wrongCode }, context)).toMatchObject({ verified: false });
    expect((await verifyTicketSecondFactor(token, binding, { method: "totp", code: rightCode }, context)).verified).toBe(true);
    expect(await completeSignIn({ token, browserBinding: binding }, undefined, context)).not.toBeNull();

    // Failures: a malformed form, an unknown email, then wrong passwords until the account locks (3), and the
    // right password during the lock.
    expect(await authenticateWithPassword({ email: customer.email }, context)).toBeNull();
    expect(await authenticateWithPassword({ email: "nobody-here@example.com", password }, context)).toBeNull();
    for (let attempt = 0; attempt < 3; attempt += 1) {
      expect(await authenticateWithPassword({ email: customer.email, password: `${password}-wrong` }, context)).toBeNull();
    }
    expect(await authenticateWithPassword({ email: customer.email, password }, context)).toBeNull();

    const moved = Object.fromEntries(
      await Promise.all(outcomes.map(async (outcome) => [outcome, (await valueOf(signInOutcomes, { outcome })) - before[outcome]])),
    );
    expect(moved).toEqual({
      success: 1,
      password_verified: 1,
      malformed: 1,
      unknown_account: 1,
      wrong_password: 3,
      locked: 1,
      second_factor_failed: 1,
    });
    expect((await valueOf(lockouts, { stage: "sign_in" })) - lockoutsBefore).toBe(1);
  });
});

describe("transfer counters", () => {
  it("count posted, replayed and refused transfers, the refusal by its reason", async () => {
    const { transfers } = metrics();
    const series = [
      { outcome: "posted", reason: "none" },
      { outcome: "replayed", reason: "none" },
      { outcome: "refused", reason: "insufficient_funds" },
      { outcome: "refused", reason: "not_found" },
    ];
    const before = await Promise.all(series.map((labels) => valueOf(transfers, labels)));
    const customer = await createTestCustomer("metrics");
    const checking = await openFundedAccount(customer, 10_000n, "checking");
    const savings = await openFundedAccount(customer, 0n, "savings");
    const stranger = await createTestCustomer("metrics-stranger");
    const strangersAccount = await openFundedAccount(stranger, 0n);

    const small = transferRequest({ fromAccountId: checking, to: { kind: "own_account", accountId: savings }, amount: "10.00" });
    expect((await postCustomerTransfer(customer, small)).status).toBe("posted");
    expect((await postCustomerTransfer(customer, small)).replayed).toBe(true);
    const tooMuch = transferRequest({ fromAccountId: checking, to: { kind: "own_account", accountId: savings }, amount: "500.00" });
    await expect(postCustomerTransfer(customer, tooMuch)).rejects.toMatchObject({ code: "insufficient_funds" });
    const notTheirs = transferRequest({ fromAccountId: checking, to: { kind: "own_account", accountId: strangersAccount }, amount: "1.00" });
    await expect(postCustomerTransfer(customer, notTheirs)).rejects.toMatchObject({ code: "not_found" });

    const after = await Promise.all(series.map((labels) => valueOf(transfers, labels)));
    expect(after.map((value, index) => value - (before[index] ?? 0))).toEqual([1, 1, 1, 1]);
  });
});

describe("audit sealer lag", () => {
  it("reports the unsealed events and the age of the oldest, and zero once they are sealed", async () => {
    const { auditUnsealedEvents, auditOldestUnsealedAgeSeconds } = metrics();
    // The tests above wrote audit events and nothing has sealed them in this file.
    const behind = await measureAuditSealingLag(database());
    expect(behind.unsealedEvents).toBeGreaterThan(5);
    expect(behind.oldestUnsealedAgeSeconds).toBeGreaterThanOrEqual(0);
    expect(await valueOf(auditUnsealedEvents)).toBe(behind.unsealedEvents);
    expect(await valueOf(auditOldestUnsealedAgeSeconds)).toBe(behind.oldestUnsealedAgeSeconds);

    expect((await sealAuditEvents(database(), { waitTimeoutMilliseconds: 5_000 })).outcome).toBe("sealed");
    expect(await measureAuditSealingLag(database())).toEqual({ unsealedEvents: 0, oldestUnsealedAgeSeconds: 0 });
    expect(await valueOf(auditUnsealedEvents)).toBe(0);
    expect(await valueOf(auditOldestUnsealedAgeSeconds)).toBe(0);
  });
});
