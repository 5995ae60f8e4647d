import crypto from "node:crypto";
import { and, eq, sql } from "drizzle-orm";
import { generate } from "otplib";
import { beforeAll, describe, expect, it } from "vitest";
import { database, databaseHandle } from "@/db/client";
import { applyMigrations } from "@/db/migrations";
import { accounts, auditEvents, sessions, signInEvents, stepUpConfirmations, users } from "@/db/schema";
import { seedDemoData } from "@/db/seed-demo-data";
import { clearCustomerLockout } from "@/lib/admin/customers/clear-customer-lockout";
import { findCustomers } from "@/lib/admin/customers/find-customers";
import { readCustomerDetail } from "@/lib/admin/customers/read-customer-detail";
import { revealCustomerField } from "@/lib/admin/customers/reveal-customer-field";
import { revokeCustomerSessions } from "@/lib/admin/customers/revoke-customer-sessions";
import { setAccountFrozen } from "@/lib/admin/customers/set-account-frozen";
import { permissionMatrix, roleHasPermission, type StaffPermission } from "@/lib/admin/permissions";
import type { SessionActor, StaffRole } from "@/lib/auth/actor";
import { createSession, sessionLimitsFromConfiguration, validateSession } from "@/lib/auth/sessions";
import { confirmStepUp } from "@/lib/auth/step-up";
import { stepUpOperationHash, type StepUpOperationName } from "@/lib/auth/step-up-operations";
import { BankError } from "@/lib/errors";
import { postCustomerTransfer, type TransferringCustomer } from "@/lib/ledger/post-transfer";
import { useIntegrationEnvironment } from "../helpers/integration-environment";
import { createTestCustomer, openFundedAccount, savePayee } from "../helpers/ledger-fixtures";
import { balancesOf, seededAccount, transferRequest, userIdFor } from "../helpers/transfer-fixtures";

useIntegrationEnvironment();

type StaffSession = SessionActor & { kind: "staff" };

const staffRoles: readonly StaffRole[] = ["admin", "support", "auditor"];
const staff = {} as Record<StaffRole, StaffSession>;
const staffTotpSecrets = {} as Record<StaffRole, string>;
let customerActor: SessionActor;
let aliceId: string;
let aliceChecking: { id: string; accountNumber: string };
let staffUserId: string;

async function openSessionFor(userId: string): Promise<string> {
  return createSession(database(), { userId, ipAddress: "198.51.100.20", userAgent: "admin-customers-test/1.0", showLockNotice: false });
}

/** A confirmed, unused step-up for exactly this operation and input, as confirmStepUp would record it. */
async function grantStepUp(actor: StaffSession, operation: StepUpOperationName, input: Record<string, unknown>): Promise<void> {
  await database()
    .insert(stepUpConfirmations)
    .values({ id: crypto.randomUUID(), sessionId: actor.sessionId, payloadHash: stepUpOperationHash(operation, actor, input), confirmedAt: new Date() });
}

async function failureOf(work: Promise<unknown>): Promise<BankError> {
  try {
    await work;
  } catch (error) {
    if (error instanceof BankError) return error;
    throw error;
  }
  throw new Error("expected a BankError");
}

async function auditRows(action: string, targetId: string) {
  return database()
    .select({ actorId: auditEvents.actorId, actorRole: auditEvents.actorRole, details: auditEvents.details })
    .from(auditEvents)
    .where(and(eq(auditEvents.action, action), eq(auditEvents.targetId, targetId)));
}

async function auditEventCount(): Promise<number> {
  const [row] = await database().select({ count: sql<number>`count(*)::int` }).from(auditEvents);
  return Number(row?.count ?? 0);
}

const reason = "Customer called about a letter that did not arrive";

beforeAll(async () => {
  await applyMigrations(databaseHandle());
  const seeded = await seedDemoData();
  for (const role of staffRoles) {
    const signIn = seeded.signIns.find((candidate) => candidate.role === role);
    if (!signIn) throw new Error(`no seeded ${role}`);
    const userId = await userIdFor(signIn.email);
    staffTotpSecrets[role] = signIn.totpSecret;
    staff[role] = { kind: "staff", role, userId, sessionId: await openSessionFor(userId), ipAddress: "198.51.100.21", userAgent: "staff-test/1.0" } as StaffSession;
  }
  staffUserId = staff.support.userId;
  aliceId = await userIdFor("alice@example.com");
  aliceChecking = await seededAccount(aliceId, "checking");
  customerActor = { kind: "customer", role: "customer", userId: aliceId, sessionId: await openSessionFor(aliceId), ipAddress: null, userAgent: null };
});

describe("findCustomers", () => {
  it("finds a customer by email (normalised, through the blind index), account number or id, masked", async () => {
    const byEmail = await findCustomers(staff.support, "  Alice@Example.COM ");
    expect(byEmail).toEqual([{ id: aliceId, maskedEmail: "a•••@example.com", maskedName: "A••• A•••", locked: false, emailVerified: true }]);
    const spaced = `${aliceChecking.accountNumber.slice(0, 4)} ${aliceChecking.accountNumber.slice(4)}`;
    expect((await findCustomers(staff.auditor, spaced)).map((result) => result.id)).toEqual([aliceId]);
    expect((await findCustomers(staff.admin, aliceId.toUpperCase())).map((result) => result.id)).toEqual([aliceId]);
    expect(JSON.stringify(byEmail)).not.toContain("alice@example.com");
  });

  it("answers an empty list for unknown customers and for staff, a field error for malformed input", async () => {
    expect(await findCustomers(staff.support, "nobody@example.com")).toEqual([]);
    expect(await findCustomers(staff.support, "sam.support@example.com")).toEqual([]);
    expect(await findCustomers(staff.support, staffUserId)).toEqual([]);
    expect(await findCustomers(staff.support, crypto.randomUUID())).toEqual([]);
    const wrongCheckDigit = `${aliceChecking.accountNumber.slice(0, 9)}${(Number(aliceChecking.accountNumber[9]) + 1) % 10}`;
    for (const query of [wrongCheckDigit, "not an email@", "alice", "", "12345"]) {
      const failure = await failureOf(findCustomers(staff.support, query));
      expect(failure.code).toBe("invalid_input");
      expect(failure.fieldErrors?.query?.length).toBeGreaterThan(0);
    }
  });
});

describe("readCustomerDetail", () => {
  it("shows the profile masked, accounts, transfers in both directions, sessions and login history", async () => {
    const bobId = await userIdFor("bob@example.com");
    const bobChecking = await seededAccount(bobId, "checking");
    const bob: TransferringCustomer = { kind: "customer", role: "customer", userId: bobId, sessionId: null, ipAddress: null, userAgent: null };
    const payee = await savePayee(bob, aliceChecking.id, { name: "Alice" });
    await postCustomerTransfer(bob, transferRequest({ fromAccountId: bobChecking.id, to: { kind: "payee", payeeId: payee }, amount: "3.21" }));
    await database().insert(signInEvents).values({ userId: aliceId, outcome: "wrong_password", ipAddress: "203.0.113.5", userAgent: "browser" });

    const detail = await readCustomerDetail(staff.auditor, aliceId);
    expect(detail.id).toBe(aliceId);
    expect(detail.profile.find((entry) => entry.field === "email")?.masked).toBe("a•••@example.com");
    expect(detail.profile.find((entry) => entry.field === "legal_name")?.masked).toBe("A••• A•••");
    const serialised = JSON.stringify(detail, (_key, value: unknown) => (typeof value === "bigint" ? value.toString() : value));
    expect(serialised).not.toContain("alice@example.com");
    expect(serialised).not.toContain("Atkinson");
    const checking = detail.accounts.find((account) => account.id === aliceChecking.id);
    expect(checking).toMatchObject({ accountNumber: aliceChecking.accountNumber, kind: "checking", status: "active" });
    expect(typeof checking?.postedMinor).toBe("bigint");
    expect(checking?.postedMinor).toBe((await balancesOf(aliceChecking.id)).balanceMinor);
    expect(detail.recentTransfers[0]).toMatchObject({ direction: "in", amountMinor: 321n, debitAccountNumber: bobChecking.accountNumber });
    expect(detail.recentTransfers.length).toBeLessThanOrEqual(20);
    expect(detail.sessions.map((session) => session.id)).toContain(customerActor.sessionId);
    expect(detail.loginHistory[0]).toMatchObject({ outcome: "wrong_password", ipAddress: "203.0.113.5" });
  });

  it("answers not_found for a staff member's id, an unknown id and a malformed one", async () => {
    for (const id of [staffUserId, crypto.randomUUID(), "not-a-uuid"]) {
      expect((await failureOf(readCustomerDetail(staff.admin, id))).code).toBe("not_found");
    }
  });
});

describe("revealCustomerField", () => {
  it("asks for a step-up bound to the customer and field, reveals once, and records the reason without the value", async () => {
    const before = await auditEventCount();
    expect((await failureOf(revealCustomerField(staff.support, aliceId, "email", reason))).code).toBe("step_up_required");
    // A confirmation for another field does not reveal this one.
    await grantStepUp(staff.support, "staff_reveal_pii", { customerId: aliceId, field: "phone", reason });
    expect((await failureOf(revealCustomerField(staff.support, aliceId, "email", reason))).code).toBe("step_up_required");
    expect(await auditEventCount()).toBe(before);

    await grantStepUp(staff.support, "staff_reveal_pii", { customerId: aliceId, field: "email", reason });
    expect(await revealCustomerField(staff.support, aliceId, "email", `  ${reason}  `)).toEqual({ field: "email", value: "alice@example.com" });
    // The confirmation is spent.
    expect((await failureOf(revealCustomerField(staff.support, aliceId, "email", reason))).code).toBe("step_up_required");
    const events = await auditRows("staff.customer.pii_revealed", aliceId);
    expect(events).toEqual([{ actorId: staff.support.userId, actorRole: "support", details: { field: "email", reason } }]);
    expect(JSON.stringify(events)).not.toContain("alice@example.com");
  });

  it("reveals after a real confirmation with a code from the staff member's authenticator app", async () => {
    const input = { customerId: aliceId, field: "legal_name", reason };
    const code = await generate({ secret: staffTotpSecrets.auditor, epoch: Math.floor(Date.now() / 1000) });
    await confirmStepUp(staff.auditor, code, stepUpOperationHash("staff_reveal_pii", staff.auditor, input));
    expect(await revealCustomerField(staff.auditor, aliceId, "legal_name", reason)).toEqual({ field: "legal_name", value: "Alice Atkinson" });
  });

  it("refuses a missing or short reason and an unknown field before any step-up, and an unknown customer as not_found", async () => {
    for (const badReason of ["", "   short   ", "x".repeat(501)]) {
      const failure = await failureOf(revealCustomerField(staff.admin, aliceId, "email", badReason));
      expect(failure.code).toBe("invalid_input");
      expect(failure.fieldErrors?.reason?.length).toBeGreaterThan(0);
    }
    expect((await failureOf(revealCustomerField(staff.admin, aliceId, "password_hash", reason))).fieldErrors?.field).toBeDefined();
    expect((await failureOf(revealCustomerField(staff.admin, staffUserId, "email", reason))).code).toBe("not_found");
    expect((await failureOf(revealCustomerField(staff.admin, "nope", "email", reason))).code).toBe("not_found");
  });
});

describe("customer care", () => {
  it("clears a sign-in lock and the failure count, with an audit event", async () => {
    const customer = await createTestCustomer("locked");
    await database().update(users).set({ failedSignInCount: 5, lockedUntil: new Date(Date.now() + 600_000) }).where(eq(users.id, customer.userId));
    expect((await findCustomers(staff.support, customer.userId))[0]?.locked).toBe(true);
    await clearCustomerLockout(staff.support, customer.userId);
    const [row] = await database().select({ count: users.failedSignInCount, lockedUntil: users.lockedUntil }).from(users).where(eq(users.id, customer.userId));
    expect(row).toEqual({ count: 0, lockedUntil: null });
    expect(await auditRows("staff.customer.lockout_cleared", customer.userId)).toHaveLength(1);
    expect((await failureOf(clearCustomerLockout(staff.support, staffUserId))).code).toBe("not_found");
  });

  it("revokes every session of the customer, effective on their next request", async () => {
    const customer = await createTestCustomer("sessions");
    const first = await openSessionFor(customer.userId);
    const second = await openSessionFor(customer.userId);
    expect(await revokeCustomerSessions(staff.support, customer.userId)).toBe(2);
    const limits = sessionLimitsFromConfiguration();
    for (const sessionId of [first, second]) {
      const verdict = await validateSession(database(), { sessionId, userId: customer.userId }, { now: new Date(), limits, recordActivity: false });
      expect(verdict).toEqual({ accepted: false, refusal: "revoked" });
    }
    expect(await auditRows("staff.customer.sessions_revoked", customer.userId)).toEqual([
      { actorId: staff.support.userId, actorRole: "support", details: { count: 2 } },
    ]);
  });

  it("freezes an account so that it can neither send nor receive, and unfreezing restores it", async () => {
    const owner = await createTestCustomer("frozen");
    const sender = await createTestCustomer("sender");
    const frozenAccount = await openFundedAccount(owner, 10_000n);
    const ownOther = await openFundedAccount(owner, 0n, "savings");
    const senderAccount = await openFundedAccount(sender, 10_000n);
    const payee = await savePayee(sender, frozenAccount);
    const freeze = { accountId: frozenAccount, frozen: true, reason };
    expect((await failureOf(setAccountFrozen(staff.admin, frozenAccount, true, reason))).code).toBe("step_up_required");
    // A confirmation to unfreeze is not one to freeze.
    await grantStepUp(staff.admin, "staff_freeze_account", { ...freeze, frozen: false });
    expect((await failureOf(setAccountFrozen(staff.admin, frozenAccount, true, reason))).code).toBe("step_up_required");
    await grantStepUp(staff.admin, "staff_freeze_account", freeze);
    expect(await setAccountFrozen(staff.admin, frozenAccount, true, reason)).toEqual({ accountId: frozenAccount, status: "frozen" });

    const send = () => postCustomerTransfer(owner, transferRequest({ fromAccountId: frozenAccount, to: { kind: "own_account", accountId: ownOther }, amount: "1.00" }));
    const receive = () => postCustomerTransfer(sender, transferRequest({ fromAccountId: senderAccount, to: { kind: "payee", payeeId: payee }, amount: "1.00" }));
    expect((await failureOf(send())).code).toBe("account_unavailable");
    expect((await failureOf(receive())).code).toBe("account_unavailable");
    expect(await balancesOf(frozenAccount)).toEqual({ balanceMinor: 10_000n, availableMinor: 10_000n });

    await grantStepUp(staff.admin, "staff_freeze_account", { ...freeze, frozen: false });
    expect(await setAccountFrozen(staff.admin, frozenAccount, false, reason)).toEqual({ accountId: frozenAccount, status: "active" });
    expect((await send()).status).toBe("posted");
    expect((await receive()).status).toBe("posted");
    expect(await balancesOf(frozenAccount)).toEqual({ balanceMinor: 10_000n, availableMinor: 10_000n });

    const events = await database()
      .select({ action: auditEvents.action, details: auditEvents.details })
      .from(auditEvents)
      .where(eq(auditEvents.targetId, frozenAccount))
      .orderBy(auditEvents.sequence);
    expect(events.filter((event) => event.action.startsWith("staff.account."))).toEqual([
      { action: "staff.account.frozen", details: { reason } },
      { action: "staff.account.unfrozen", details: { reason } },
    ]);
  });

  it("leaves a closed account closed and refuses a change to the state the account is already in", async () => {
    const owner = await createTestCustomer("closed");
    const closed = await openFundedAccount(owner, 0n);
    await database().update(accounts).set({ status: "closed" }).where(eq(accounts.id, closed));
    await grantStepUp(staff.admin, "staff_freeze_account", { accountId: closed, frozen: true, reason });
    expect((await failureOf(setAccountFrozen(staff.admin, closed, true, reason))).code).toBe("conflict");
    const active = await openFundedAccount(owner, 0n);
    await grantStepUp(staff.admin, "staff_freeze_account", { accountId: active, frozen: false, reason });
    expect((await failureOf(setAccountFrozen(staff.admin, active, false, reason))).code).toBe("conflict");
    const statuses = await database().select({ id: accounts.id, status: accounts.status }).from(accounts).where(eq(accounts.ownerId, owner.userId));
    expect(Object.fromEntries(statuses.map((row) => [row.id, row.status]))).toEqual({ [closed]: "closed", [active]: "active" });
    expect((await failureOf(setAccountFrozen(staff.admin, crypto.randomUUID(), true, reason))).code).toBe("not_found");
  });
});

describe("refusals, generated from the permission matrix", () => {
  // Each use case with its permission and a call that would change something (or reveal something) if allowed.
  const useCases: { name: string; permission: StaffPermission; call: (actor: SessionActor, target: Target) => Promise<unknown> }[] = [
    { name: "findCustomers", permission: "customers.read", call: (actor, target) => findCustomers(actor, target.customerId) },
    { name: "readCustomerDetail", permission: "customers.read", call: (actor, target) => readCustomerDetail(actor, target.customerId) },
    { name: "revealCustomerField", permission: "customers.reveal_pii", call: (actor, target) => revealCustomerField(actor, target.customerId, "email", reason) },
    { name: "clearCustomerLockout", permission: "customers.clear_lockout", call: (actor, target) => clearCustomerLockout(actor, target.customerId) },
    { name: "revokeCustomerSessions", permission: "customers.revoke_sessions", call: (actor, target) => revokeCustomerSessions(actor, target.customerId) },
    { name: "setAccountFrozen", permission: "accounts.freeze", call: (actor, target) => setAccountFrozen(actor, target.accountId, true, reason) },
  ];
  interface Target {
    customerId: string;
    accountId: string;
    sessionId: string;
  }

  it("refuses every use case as not_found to a customer and to each staff role without the permission, and changes nothing", async () => {
    const customer = await createTestCustomer("refusals");
    const target: Target = { customerId: customer.userId, accountId: await openFundedAccount(customer, 500n), sessionId: await openSessionFor(customer.userId) };
    const lockedUntil = new Date(Date.now() + 600_000);
    await database().update(users).set({ failedSignInCount: 5, lockedUntil }).where(eq(users.id, customer.userId));
    const auditBefore = await auditEventCount();

    let refusals = 0;
    for (const useCase of useCases) {
      const refused: SessionActor[] = [customerActor, ...staffRoles.filter((role) => !roleHasPermission(role, useCase.permission)).map((role) => staff[role])];
      for (const actor of refused) {
        // Even a valid step-up does not help someone without the permission.
        if (actor.kind === "staff") {
          await grantStepUp(actor as StaffSession, "staff_freeze_account", { accountId: target.accountId, frozen: true, reason });
          await grantStepUp(actor as StaffSession, "staff_reveal_pii", { customerId: target.customerId, field: "email", reason });
        }
        const failure = await failureOf(useCase.call(actor, target));
        expect({ useCase: useCase.name, actor: actor.role, code: failure.code }).toEqual({ useCase: useCase.name, actor: actor.role, code: "not_found" });
        refusals += 1;
      }
    }
    // The matrix gives each of the six use cases at least the customer; the auditor lacks four of them.
    expect(refusals).toBe(useCases.length + useCases.filter((useCase) => !permissionMatrix.auditor.includes(useCase.permission)).length + useCases.filter((useCase) => !permissionMatrix.support.includes(useCase.permission)).length);

    expect(await auditEventCount()).toBe(auditBefore);
    const [user] = await database().select({ count: users.failedSignInCount, lockedUntil: users.lockedUntil }).from(users).where(eq(users.id, customer.userId));
    expect(user).toEqual({ count: 5, lockedUntil });
    const [session] = await database().select({ revokedAt: sessions.revokedAt }).from(sessions).where(eq(sessions.id, target.sessionId));
    expect(session?.revokedAt).toBeNull();
    const [account] = await database().select({ status: accounts.status }).from(accounts).where(eq(accounts.id, target.accountId));
    expect(account?.status).toBe("active");
  });
});
