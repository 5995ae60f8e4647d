import crypto from "node:crypto";
import { and, count, eq, isNull } from "drizzle-orm";
import { generate } from "otplib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { database, databaseHandle } from "@/db/client";
import { applyMigrations } from "@/db/migrations";
import {
  auditEvents,
  mfaResetRequests,
  outbox,
  recoveryCodes,
  sessions,
  stepUpConfirmations,
  users,
  userTokens,
} from "@/db/schema";
import type { SessionActor, StaffRole } from "@/lib/auth/actor";
import { approveMfaReset } from "@/lib/admin/mfa-reset/approve-mfa-reset";
import { cancelMfaReset } from "@/lib/admin/mfa-reset/cancel-mfa-reset";
import { listPendingMfaResets } from "@/lib/admin/mfa-reset/list-pending-mfa-resets";
import { requestMfaReset } from "@/lib/admin/mfa-reset/request-mfa-reset";
import { roleHasPermission, type StaffPermission } from "@/lib/admin/permissions";
import {
  completeMfaReenrolment,
  isMfaReenrolmentTokenUsable,
  startMfaReenrolment,
} from "@/lib/auth/mfa-reenrolment";
import { hashPassword } from "@/lib/auth/password";
import { regenerateRecoveryCodes } from "@/lib/auth/recovery-codes";
import {
  completeTicketEnrolment,
  issueSignInTicket,
  readSignInTicket,
  startTicketEnrolment,
} from "@/lib/auth/sign-in-tickets";
import { confirmStepUp } from "@/lib/auth/step-up";
import { stepUpOperationHash, type StepUpOperationName } from "@/lib/auth/step-up-operations";
import { generateTotpSecret, totpSecretField } from "@/lib/auth/totp";
import { blindIndex, decryptField, encryptField, normaliseEmail } from "@/lib/crypto";
import { BankError } from "@/lib/errors";
import { runEmailDelivery } from "@/lib/mail/schedule-delivery";
import { useIntegrationEnvironment } from "../helpers/integration-environment";

process.env.STEP_UP_WINDOW_SECONDS = "300";

useIntegrationEnvironment();

const context = { ipAddress: "198.51.100.31", userAgent: "admin-mfa-reset-test/1.0" };
const password = "Harbour-lantern-quiet-81!";
let passwordHash: string;

beforeAll(async () => {
  await applyMigrations(databaseHandle());
  passwordHash = await hashPassword(password);
});

// Approvals start delivering the queued mail at once (no request to defer to); let that run finish before the
// environment drops the database under it.
afterAll(async () => {
  await runEmailDelivery();
});

type Role = "customer" | StaffRole;

interface Person {
  actor: SessionActor;
  email: string;
  secret: string;
}

/** A verified user of `role` with an enrolled authenticator and an open session. */
async function person(role: Role, name: string): Promise<Person> {
  const userId = crypto.randomUUID();
  const email = normaliseEmail(`${name.toLowerCase()}-${crypto.randomBytes(4).toString("hex")}@example.com`);
  const secret = generateTotpSecret();
  await database()
    .insert(users)
    .values({
      id: userId,
      role,
      emailCiphertext: await encryptField(email, { table: "users", column: "email", rowId: userId }),
      emailBlindIndex: await blindIndex("email", email),
      legalNameCiphertext: await encryptField(name, { table: "users", column: "legal_name", rowId: userId }),
      passwordHash,
      emailVerifiedAt: new Date(),
      termsAcceptedAt: new Date(),
      totpSecretCiphertext: await encryptField(secret, totpSecretField(userId), "mfa"),
      totpEnrolledAt: new Date(),
    });
  const sessionId = crypto.randomUUID();
  await database().insert(sessions).values({ id: sessionId, userId });
  const actor: SessionActor =
    role === "customer"
      ? { kind: "customer", userId, role, sessionId, ...context }
      : { kind: "staff", userId, role, sessionId, ...context };
  return { actor, email, secret };
}

/**
 * A payload-bound confirmation as `confirmStepUp` writes it. Written directly so that one staff member can
 * confirm several operations within one 30-second TOTP step (a real code is accepted once per step); the real
 * confirmation path is exercised once, in the first test.
 */
async function confirmed(actor: SessionActor, operation: StepUpOperationName, input: unknown): Promise<void> {
  await database()
    .insert(stepUpConfirmations)
    .values({
      id: crypto.randomUUID(),
      sessionId: actor.sessionId,
      payloadHash: stepUpOperationHash(operation, actor, input),
      confirmedAt: new Date(),
    });
}

async function codeFor(secret: string, now: Date = new Date()): Promise<string> {
  return generate({ secret, epoch: Math.floor(now.getTime() / 1000) });
}

async function failureOf(promise: Promise<unknown>): Promise<BankError> {
  const error = await promise.then(
    () => null,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(BankError);
  return error as BankError;
}

async function userRow(userId: string) {
  const [user] = await database().select().from(users).where(eq(users.id, userId));
  if (!user) throw new Error("user vanished");
  return user;
}

async function liveSessionCount(userId: string): Promise<number> {
  const [row] = await database()
    .select({ live: count() })
    .from(sessions)
    .where(and(eq(sessions.userId, userId), isNull(sessions.revokedAt)));
  return row?.live ?? 0;
}

async function auditCount(action: string, targetId: string): Promise<number> {
  const [row] = await database()
    .select({ events: count() })
    .from(auditEvents)
    .where(and(eq(auditEvents.action, action), eq(auditEvents.targetId, targetId)));
  return row?.events ?? 0;
}

async function requestRows(customerId: string) {
  return database().select().from(mfaResetRequests).where(eq(mfaResetRequests.customerId, customerId));
}

/** The re-enrolment emails queued for a user, decrypted. */
async function reenrolmentMails(userId: string): Promise<{ to: string; body: string }[]> {
  const rows = await database()
    .select()
    .from(outbox)
    .where(and(eq(outbox.userId, userId), eq(outbox.template, "mfa_reset_reenrolment")));
  return Promise.all(
    rows.map(async (row) => ({
      to: await decryptField(row.recipientCiphertext, { table: "outbox", column: "recipient", rowId: row.id }),
      body: await decryptField(row.bodyCiphertext, { table: "outbox", column: "body", rowId: row.id }),
    })),
  );
}

function tokenIn(body: string): string {
  const match = body.match(/\/reenrol-authenticator\?token=([A-Za-z0-9_-]{43})/);
  if (!match?.[1]) throw new Error("no re-enrolment link in the message");
  return match[1];
}

/** What a refused call must leave untouched: the customer's factor and sessions, and the requests. */
async function snapshotOf(customerId: string) {
  const user = await userRow(customerId);
  return {
    totpSecretCiphertext: user.totpSecretCiphertext,
    mfaReenrolmentRequiredAt: user.mfaReenrolmentRequiredAt,
    liveSessions: await liveSessionCount(customerId),
    requests: (await requestRows(customerId)).map((row) => ({ id: row.id, status: row.status, approvedBy: row.approvedBy })),
    tokens: (await database().select({ id: userTokens.id }).from(userTokens).where(eq(userTokens.userId, customerId))).length,
  };
}

describe("resetting a lost authenticator takes two staff members", () => {
  it("request by Sam, refused to Sam, approved by Ada; the customer enrols again only through the emailed link, once", async () => {
    const sam = await person("support", "Sam");
    const ada = await person("admin", "Ada");
    const customer = await person("customer", "Casey");
    await regenerateRecoveryCodes(database(), customer.actor.userId);
    const reason = "Lost phone; identity checked by video call with passport.";

    // Without a confirmed code nothing is requested.
    const unconfirmed = await failureOf(requestMfaReset(sam.actor, customer.actor.userId, reason));
    expect(unconfirmed.code).toBe("step_up_required");
    expect(await requestRows(customer.actor.userId)).toHaveLength(0);

    // The real confirmation path: a code from Sam's authenticator, bound to this customer.
    await confirmStepUp(
      sam.actor,
      await codeFor(sam.secret),
      stepUpOperationHash("staff_request_mfa_reset", sam.actor, { customerId: customer.actor.userId }),
    );
    const { requestId } = await requestMfaReset(sam.actor, customer.actor.userId, reason);
    expect(await auditCount("staff.mfa_reset.requested", customer.actor.userId)).toBe(1);
    // The reason is free text that may name the customer's documents: encrypted at rest.
    const [stored] = await requestRows(customer.actor.userId);
    expect(stored?.reasonCiphertext).not.toContain("passport");
    const pending = await listPendingMfaResets(ada.actor);
    expect(pending.find((row) => row.requestId === requestId)).toMatchObject({
      customerId: customer.actor.userId,
      reason,
      requestedByName: "Sam",
      viewerMayApprove: true,
    });
    expect((await listPendingMfaResets(sam.actor)).find((row) => row.requestId === requestId)?.viewerMayApprove).toBe(false);

    // A second pending request for the same customer is refused.
    await confirmed(ada.actor, "staff_request_mfa_reset", { customerId: customer.actor.userId });
    expect((await failureOf(requestMfaReset(ada.actor, customer.actor.userId, reason))).code).toBe("conflict");

    // Sam is support: he may request, never approve, not even with a confirmed code; nothing changes.
    const before = await snapshotOf(customer.actor.userId);
    await confirmed(sam.actor, "staff_approve_mfa_reset", { requestId });
    expect((await failureOf(approveMfaReset(sam.actor, requestId))).code).toBe("not_found");
    expect(await snapshotOf(customer.actor.userId)).toEqual(before);

    // Ada without a code: step-up required, nothing changes.
    expect((await failureOf(approveMfaReset(ada.actor, requestId))).code).toBe("step_up_required");
    expect(await snapshotOf(customer.actor.userId)).toEqual(before);

    await confirmed(ada.actor, "staff_approve_mfa_reset", { requestId });
    await approveMfaReset(ada.actor, requestId);

    const reset = await userRow(customer.actor.userId);
    expect(reset.totpSecretCiphertext).toBeNull();
    expect(reset.totpEnrolledAt).toBeNull();
    expect(reset.mfaReenrolmentRequiredAt).not.toBeNull();
    expect(await liveSessionCount(customer.actor.userId)).toBe(0);
    const [unusedCodes] = await database()
      .select({ codes: count() })
      .from(recoveryCodes)
      .where(and(eq(recoveryCodes.userId, customer.actor.userId), isNull(recoveryCodes.usedAt)));
    expect(unusedCodes?.codes).toBe(0);
    const [approved] = await requestRows(customer.actor.userId);
    expect(approved).toMatchObject({ status: "approved", requestedBy: sam.actor.userId, approvedBy: ada.actor.userId });
    expect(await auditCount("staff.mfa_reset.approved", customer.actor.userId)).toBe(1);

    const mails = await reenrolmentMails(customer.actor.userId);
    expect(mails).toHaveLength(1);
    expect(mails[0]?.to).toBe(customer.email);
    const token = tokenIn(mails[0]?.body ?? "");
    expect(await isMfaReenrolmentTokenUsable(token)).toBe(true);
    // Only the hash is stored.
    expect((await database().select().from(userTokens).where(eq(userTokens.tokenHash, token))).length).toBe(0);

    // A password sign-in does not offer enrolment: the ticket says so, and enrolling on it is refused.
    const binding = crypto.randomBytes(32).toString("base64url");
    const ticket = await issueSignInTicket(database(), customer.actor.userId, binding);
    const state = await readSignInTicket(ticket.token, binding);
    expect(state).toMatchObject({ totpEnrolled: false, mfaReenrolmentRequired: true });
    expect(await startTicketEnrolment(ticket.token, binding)).toBeNull();
    expect(await completeTicketEnrolment(ticket.token, binding, "123456", context)).toEqual({
      enrolled: false,
      reason: "ticket_invalid",
    });

    // The link: a wrong password is refused; the right one shows a new secret; its first code enrols.
    expect((await failureOf(startMfaReenrolment({ token, password: "not the password" }, context))).code).toBe("invalid_input");
    const provisioning = await startMfaReenrolment({ token, password }, context);
    expect(provisioning.qrCodeDataUrl).toMatch(/^data:image\/svg\+xml;base64,/);
    const newSecret = provisioning.secretForManualEntry.replace(/\s+/g, "");
    expect((await failureOf(completeMfaReenrolment({ token, code: "000000" }, context))).code).toBe("invalid_input");
    const { recoveryCodes: fresh } = await completeMfaReenrolment({ token, code: await codeFor(newSecret) }, context);
    expect(fresh).toHaveLength(10);

    const enrolled = await userRow(customer.actor.userId);
    expect(enrolled.totpEnrolledAt).not.toBeNull();
    expect(enrolled.mfaReenrolmentRequiredAt).toBeNull();
    expect(enrolled.pendingTotpSecretCiphertext).toBeNull();
    expect((await requestRows(customer.actor.userId))[0]?.status).toBe("completed");
    expect(await auditCount("auth.mfa.reenrolled_after_reset", customer.actor.userId)).toBe(1);

    // The link is spent.
    expect(await isMfaReenrolmentTokenUsable(token)).toBe(false);
    expect((await failureOf(startMfaReenrolment({ token, password }, context))).code).toBe("not_found");
    expect((await failureOf(completeMfaReenrolment({ token, code: await codeFor(newSecret) }, context))).code).toBe("not_found");
  });

  // Generated from the permission matrix: every actor whose role lacks the permission is refused with
  // not_found (a 404 everywhere), even with a confirmed code, and nothing changes.
  const operations: { permission: StaffPermission; run: (actor: SessionActor, customerId: string, requestId: string) => Promise<unknown> }[] = [
    { permission: "mfa_reset.request", run: (actor, customerId) => requestMfaReset(actor, customerId, "Lost phone.") },
    { permission: "mfa_reset.approve", run: (actor, _customerId, requestId) => approveMfaReset(actor, requestId) },
    { permission: "mfa_reset.request", run: (actor, _customerId, requestId) => cancelMfaReset(actor, requestId) },
    { permission: "mfa_reset.request", run: (actor) => listPendingMfaResets(actor) },
  ];
  const roles: Role[] = ["customer", "support", "auditor", "admin"];
  const refusals = roles.flatMap((role) =>
    operations
      .map((operation, index) => ({ role, index, permission: operation.permission }))
      .filter(({ role: candidate, permission }) => candidate === "customer" || !roleHasPermission(candidate, permission)),
  );

  it("has refusals to test (customers, auditors, and support for approvals)", () => {
    expect(refusals.map((refusal) => refusal.role)).toEqual(expect.arrayContaining(["customer", "auditor", "support"]));
  });

  it.each(refusals)("refuses $role operation #$index ($permission) with not_found and changes nothing", async ({ role, index }) => {
    const sam = await person("support", "Sam");
    const customer = await person("customer", "Casey");
    await confirmed(sam.actor, "staff_request_mfa_reset", { customerId: customer.actor.userId });
    const { requestId } = await requestMfaReset(sam.actor, customer.actor.userId, "Lost phone.");
    const outsider = await person(role, "Outsider");
    // A staff outsider holds valid confirmations, so the refusal is the permission's, not the step-up's. A
    // customer cannot even get one: every staff operation's payload hash refuses a customer actor.
    if (outsider.actor.kind === "staff") {
      await confirmed(outsider.actor, "staff_request_mfa_reset", { customerId: customer.actor.userId });
      await confirmed(outsider.actor, "staff_approve_mfa_reset", { requestId });
    } else {
      expect(() => stepUpOperationHash("staff_approve_mfa_reset", outsider.actor, { requestId })).toThrow(BankError);
    }
    const before = await snapshotOf(customer.actor.userId);
    const operation = operations[index];
    if (!operation) throw new Error("no such operation");
    expect((await failureOf(operation.run(outsider.actor, customer.actor.userId, requestId))).code).toBe("not_found");
    expect(await snapshotOf(customer.actor.userId)).toEqual(before);
  });

  it("refuses an admin's approval of their own request, even with a confirmed code; a second admin approves it", async () => {
    const ada = await person("admin", "Ada");
    const alan = await person("admin", "Alan");
    const customer = await person("customer", "Casey");
    await confirmed(ada.actor, "staff_request_mfa_reset", { customerId: customer.actor.userId });
    const { requestId } = await requestMfaReset(ada.actor, customer.actor.userId, "Lost phone; passport checked.");
    expect((await listPendingMfaResets(ada.actor)).find((row) => row.requestId === requestId)?.viewerMayApprove).toBe(false);
    const before = await snapshotOf(customer.actor.userId);
    await confirmed(ada.actor, "staff_approve_mfa_reset", { requestId });
    expect((await failureOf(approveMfaReset(ada.actor, requestId))).code).toBe("forbidden");
    expect(await snapshotOf(customer.actor.userId)).toEqual(before);
    await confirmed(alan.actor, "staff_approve_mfa_reset", { requestId });
    await approveMfaReset(alan.actor, requestId);
    expect((await userRow(customer.actor.userId)).totpSecretCiphertext).toBeNull();
    expect(await auditCount("staff.mfa_reset.approved", customer.actor.userId)).toBe(1);
  });

  it("lets the requester or an admin cancel, and nobody else", async () => {
    const sam = await person("support", "Sam");
    const otherSupport = await person("support", "Sasha");
    const ada = await person("admin", "Ada");
    const customer = await person("customer", "Casey");
    await confirmed(sam.actor, "staff_request_mfa_reset", { customerId: customer.actor.userId });
    const first = await requestMfaReset(sam.actor, customer.actor.userId, "Lost phone.");
    expect((await failureOf(cancelMfaReset(otherSupport.actor, first.requestId))).code).toBe("forbidden");
    await cancelMfaReset(sam.actor, first.requestId);
    await confirmed(sam.actor, "staff_request_mfa_reset", { customerId: customer.actor.userId });
    const second = await requestMfaReset(sam.actor, customer.actor.userId, "Lost phone again.");
    await cancelMfaReset(ada.actor, second.requestId);
    expect((await requestRows(customer.actor.userId)).map((row) => row.status).sort()).toEqual(["cancelled", "cancelled"]);
    expect(await auditCount("staff.mfa_reset.cancelled", customer.actor.userId)).toBe(2);
    expect((await userRow(customer.actor.userId)).totpSecretCiphertext).not.toBeNull();
  });

  it("applies two parallel approvals once", async () => {
    const sam = await person("support", "Sam");
    const ada = await person("admin", "Ada");
    const alan = await person("admin", "Alan");
    const customer = await person("customer", "Casey");
    await confirmed(sam.actor, "staff_request_mfa_reset", { customerId: customer.actor.userId });
    const { requestId } = await requestMfaReset(sam.actor, customer.actor.userId, "Lost phone.");
    await confirmed(ada.actor, "staff_approve_mfa_reset", { requestId });
    await confirmed(alan.actor, "staff_approve_mfa_reset", { requestId });
    const outcomes = await Promise.allSettled([approveMfaReset(ada.actor, requestId), approveMfaReset(alan.actor, requestId)]);
    expect(outcomes.filter((outcome) => outcome.status === "fulfilled")).toHaveLength(1);
    const rejected = outcomes.find((outcome) => outcome.status === "rejected");
    expect(rejected?.status === "rejected" ? (rejected.reason as BankError).code : null).toBe("not_found");
    expect(await auditCount("staff.mfa_reset.approved", customer.actor.userId)).toBe(1);
    expect(await reenrolmentMails(customer.actor.userId)).toHaveLength(1);
    const [tokens] = await database()
      .select({ tokens: count() })
      .from(userTokens)
      .where(and(eq(userTokens.userId, customer.actor.userId), eq(userTokens.purpose, "mfa_reenrolment")));
    expect(tokens?.tokens).toBe(1);
  });
});
