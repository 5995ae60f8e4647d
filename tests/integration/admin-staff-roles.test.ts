import crypto from "node:crypto";
import { and, desc, eq, inArray } from "drizzle-orm";
import { generate } from "otplib";
import { beforeAll, describe, expect, it } from "vitest";
import { database, databaseHandle } from "@/db/client";
import { applyMigrations } from "@/db/migrations";
import { auditEvents, outbox, sessions, staffInvitations, staffRoleRequests, stepUpConfirmations, users } from "@/db/schema";
import { permissionMatrix, roleHasPermission, type StaffPermission } from "@/lib/admin/permissions";
import type { StaffSessionActor } from "@/lib/admin/staff-action";
import { inviteStaff } from "@/lib/admin/staff/invite-staff";
import { listStaff } from "@/lib/admin/staff/list-staff";
import { staffAccessRemovedUntil } from "@/lib/admin/staff/staff-access";
import { approveAdminGrant, cancelAdminGrant, changeStaffRole, removeStaffAccess } from "@/lib/admin/staff/staff-roles";
import type { CustomerActor, StaffRole } from "@/lib/auth/actor";
import { authenticateWithPassword } from "@/lib/auth/authenticate-with-password";
import { stepUpOperationHash, type StepUpOperationName } from "@/lib/auth/step-up-operations";
import { blindIndex, decryptField, encryptField, normaliseEmail } from "@/lib/crypto";
import { BankError } from "@/lib/errors";
import { acceptStaffInvitation, openStaffInvitation } from "@/lib/identity/staff-invitation";
import { useIntegrationEnvironment } from "../helpers/integration-environment";

useIntegrationEnvironment();

const context = { ipAddress: "198.51.100.90", userAgent: "staff-roles-test/1.0" };
const strongPassword = "Quiet-lantern-harbour-47!";

beforeAll(async () => {
  await applyMigrations(databaseHandle());
});

type Person = StaffSessionActor | (CustomerActor & { sessionId: string });

function uniqueEmail(label: string): string {
  return normaliseEmail(`${label}-${crypto.randomBytes(4).toString("hex")}@example.com`);
}

async function createPerson(role: StaffRole | "customer", label: string = role): Promise<Person> {
  const userId = crypto.randomUUID();
  const email = uniqueEmail(label);
  await database()
    .insert(users)
    .values({
      id: userId,
      role,
      emailCiphertext: await encryptField(email, { table: "users", column: "email", rowId: userId }),
      emailBlindIndex: await blindIndex("email", email),
      legalNameCiphertext: await encryptField(`${label} Example`, { table: "users", column: "legal_name", rowId: userId }),
      passwordHash: "not-used-in-this-test",
      emailVerifiedAt: new Date(),
    });
  const sessionId = crypto.randomUUID();
  await database().insert(sessions).values({ id: sessionId, userId });
  if (role === "customer") return { kind: "customer", role, userId, sessionId, ...context };
  return { kind: "staff", role, userId, sessionId, ...context };
}

async function createStaff(role: StaffRole, label: string = role): Promise<StaffSessionActor> {
  const person = await createPerson(role, label);
  if (person.kind !== "staff") throw new Error("expected staff");
  return person;
}

/**
 * Stands in for `confirmStepUp` (tested in second-factor.test.ts): a confirmation for exactly this operation
 * and input, as a typed code would record it. Codes are single-use per time step, and this file confirms many
 * operations per admin within seconds.
 */
async function stepUp(actor: Person, operation: StepUpOperationName, input: unknown): Promise<void> {
  await database()
    .insert(stepUpConfirmations)
    .values({ id: crypto.randomUUID(), sessionId: actor.sessionId, payloadHash: stepUpOperationHash(operation, actor, input), confirmedAt: new Date() });
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

async function roleOf(userId: string) {
  const [user] = await database().select({ role: users.role, lockedUntil: users.lockedUntil }).from(users).where(eq(users.id, userId));
  return user;
}

async function liveSessions(userId: string): Promise<number> {
  const rows = await database().select({ revokedAt: sessions.revokedAt }).from(sessions).where(eq(sessions.userId, userId));
  return rows.filter((row) => row.revokedAt === null).length;
}

async function auditOf(action: string, targetId: string) {
  return database()
    .select({ actorId: auditEvents.actorId, details: auditEvents.details })
    .from(auditEvents)
    .where(and(eq(auditEvents.action, action), eq(auditEvents.targetId, targetId)));
}

async function invitationLinkTo(email: string): Promise<string> {
  const rows = await database().select().from(outbox).where(eq(outbox.template, "staff_invitation")).orderBy(desc(outbox.createdAt));
  for (const row of rows) {
    const to = await decryptField(row.recipientCiphertext, { table: "outbox", column: "recipient", rowId: row.id });
    if (to !== email) continue;
    const body = await decryptField(row.bodyCiphertext, { table: "outbox", column: "body", rowId: row.id });
    const match = body.match(/\/staff-invitation\/([A-Za-z0-9_-]{43})/);
    if (match?.[1]) return match[1];
  }
  throw new Error(`no invitation to ${email}`);
}

function codeFor(secretForManualEntry: string, offsetSteps = 0): Promise<string> {
  return generate({ secret: secretForManualEntry.replaceAll(" ", ""), epoch: Math.floor(Date.now() / 1000) + offsetSteps * 30 });
}

describe("staff invitations", () => {
  it("round trip: the emailed single-use link creates the staff account with a password and an authenticator", async () => {
    const admin = await createStaff("admin", "inviter");
    const email = uniqueEmail("invitee");
    const { invitationId } = await inviteStaff(admin, { email, legalName: "Ivy Invitee", role: "auditor" });
    expect(await auditOf("staff.invited", invitationId)).toEqual([{ actorId: admin.userId, details: { role: "auditor" } }]);
    const [stored] = await database().select().from(staffInvitations).where(eq(staffInvitations.id, invitationId));
    const token = await invitationLinkTo(email);
    // Only the hash of the token is at rest, and neither the address nor the name is stored in clear.
    expect(JSON.stringify(stored)).not.toContain(token);
    expect(JSON.stringify(stored)).not.toContain(email);

    const opened = await openStaffInvitation(token);
    expect(opened).toMatchObject({ email, legalName: "Ivy Invitee", role: "auditor" });
    // Reloading the page shows the same authenticator, not a new one.
    expect((await openStaffInvitation(token)).authenticator.secretForManualEntry).toBe(opened.authenticator.secretForManualEntry);

    const weak = await expectBankError(acceptStaffInvitation({ token, password: "password1234", code: "123456" }, context), "invalid_input");
    expect(weak.fieldErrors?.password?.length).toBeGreaterThan(0);
    const wrongCode = await codeFor(opened.authenticator.secretForManualEntry, 5);
    const refused = await expectBankError(acceptStaffInvitation({ token, password: strongPassword, code: wrongCode }, context), "invalid_input");
    expect(refused.fieldErrors?.code).toBeDefined();

    const code = await codeFor(opened.authenticator.secretForManualEntry);
    const { userId } = await acceptStaffInvitation({ token, password: strongPassword, code }, context);
    const [created] = await database().select().from(users).where(eq(users.id, userId));
    expect(created).toMatchObject({ role: "auditor", emailBlindIndex: await blindIndex("email", email) });
    expect(created?.totpEnrolledAt).not.toBeNull();
    expect(created?.emailVerifiedAt).not.toBeNull();
    expect(await auditOf("staff.invitation.accepted", invitationId)).toEqual([
      { actorId: userId, details: { role: "auditor", invitedBy: admin.userId } },
    ]);
    // The new member signs in with the password (and then the second factor, as every enrolled user).
    await expect(authenticateWithPassword({ email, password: strongPassword }, context)).resolves.toMatchObject({ userId, role: "auditor" });

    // Single use: the link is dead now, whether opened or submitted again.
    await expectBankError(openStaffInvitation(token), "not_found");
    await expectBankError(acceptStaffInvitation({ token, password: strongPassword, code }, context), "not_found");
    const directory = await listStaff(admin);
    expect(directory.members.find((member) => member.id === userId)).toMatchObject({ role: "auditor", mfaEnrolled: true, legalName: "Ivy Invitee" });
    expect(directory.members.find((member) => member.id === userId)?.maskedEmail).not.toContain("invitee-");
  });

  it("refuses admin by invitation, an address that has an account, an expired link and a malformed one", async () => {
    const admin = await createStaff("admin", "inviter");
    await expectBankError(inviteStaff(admin, { email: uniqueEmail("x"), legalName: "Xavier", role: "admin" as "support" }), "invalid_input");
    const customer = await createPerson("customer", "taken");
    const [customerRow] = await database().select().from(users).where(eq(users.id, customer.userId));
    if (!customerRow) throw new Error("the customer was not created");
    const takenEmail = await decryptField(customerRow.emailCiphertext, { table: "users", column: "email", rowId: customer.userId });
    await expectBankError(inviteStaff(admin, { email: takenEmail, legalName: "Taken Person", role: "support" }), "conflict");

    const email = uniqueEmail("late");
    const { invitationId } = await inviteStaff(admin, { email, legalName: "Lee Late", role: "support" });
    const token = await invitationLinkTo(email);
    await database().update(staffInvitations).set({ expiresAt: new Date(Date.now() - 1000) }).where(eq(staffInvitations.id, invitationId));
    await expectBankError(openStaffInvitation(token), "not_found");
    await expectBankError(acceptStaffInvitation({ token, password: strongPassword, code: "123456" }, context), "not_found");
    await expectBankError(openStaffInvitation("not-a-token"), "not_found");
    await expectBankError(openStaffInvitation(crypto.randomBytes(32).toString("base64url")), "not_found");
  });
});

describe("role changes", () => {
  it("moves support to auditor at once behind a step-up bound to the change, audits it and ends the target's sessions", async () => {
    const admin = await createStaff("admin");
    const member = await createStaff("support");
    const input = { staffId: member.userId, role: "auditor" } as const;
    await expectBankError(changeStaffRole(admin, input), "step_up_required");
    // A confirmation for another change does not authorise this one.
    await stepUp(admin, "staff_change_role", { staffId: member.userId, role: "admin" });
    await expectBankError(changeStaffRole(admin, input), "step_up_required");
    expect((await roleOf(member.userId))?.role).toBe("support");

    await stepUp(admin, "staff_change_role", input);
    await expect(changeStaffRole(admin, input)).resolves.toEqual({ outcome: "role_changed", oldRole: "support", newRole: "auditor" });
    expect((await roleOf(member.userId))?.role).toBe("auditor");
    expect(await liveSessions(member.userId)).toBe(0);
    expect(await auditOf("staff.role.changed", member.userId)).toEqual([
      { actorId: admin.userId, details: { oldRole: "support", newRole: "auditor" } },
    ]);
  });

  it("refuses an admin changing or removing their own account", async () => {
    const admin = await createStaff("admin");
    await stepUp(admin, "staff_change_role", { staffId: admin.userId, role: "support" });
    await expectBankError(changeStaffRole(admin, { staffId: admin.userId, role: "support" }), "forbidden");
    await stepUp(admin, "staff_remove_access", { staffId: admin.userId });
    await expectBankError(removeStaffAccess(admin, { staffId: admin.userId }), "forbidden");
    expect(await roleOf(admin.userId)).toEqual({ role: "admin", lockedUntil: null });
  });

  it("removes access: the account is locked for good, its sessions end, sign-in is refused", async () => {
    const admin = await createStaff("admin");
    const member = await createStaff("auditor");
    await stepUp(admin, "staff_remove_access", { staffId: member.userId });
    await removeStaffAccess(admin, { staffId: member.userId });
    expect((await roleOf(member.userId))?.lockedUntil).toEqual(staffAccessRemovedUntil);
    expect(await liveSessions(member.userId)).toBe(0);
    expect(await auditOf("staff.access.removed", member.userId)).toEqual([{ actorId: admin.userId, details: { oldRole: "auditor" } }]);
    expect((await listStaff(admin)).members.find((entry) => entry.id === member.userId)?.accessRemoved).toBe(true);
  });
});

describe("granting admin needs a second admin", () => {
  it("files a request that neither the requester nor the target can approve, and another admin applies once", async () => {
    const requester = await createStaff("admin", "requester");
    const [second, third] = [await createStaff("admin", "second"), await createStaff("admin", "third")];
    const member = await createStaff("support", "candidate");
    const grant = { staffId: member.userId, role: "admin" } as const;
    await stepUp(requester, "staff_change_role", grant);
    const filed = await changeStaffRole(requester, grant);
    if (filed.outcome !== "grant_requested") throw new Error("expected a request");
    const { requestId } = filed;
    expect((await roleOf(member.userId))?.role).toBe("support");
    expect(await auditOf("staff.role.grant_requested", member.userId)).toHaveLength(1);
    expect((await listStaff(second)).pendingAdminGrants.map((request) => request.id)).toContain(requestId);
    // A second request for the same member is refused while the first waits.
    await stepUp(second, "staff_change_role", grant);
    await expectBankError(changeStaffRole(second, grant), "conflict");

    await stepUp(requester, "staff_approve_admin_grant", { requestId });
    await expectBankError(approveAdminGrant(requester, { requestId }), "forbidden");
    // The target is support and lacks the permission; the database refuses the target as approver as well.
    await expectBankError(approveAdminGrant(member, { requestId }), "not_found");
    await expect(
      database().update(staffRoleRequests).set({ status: "approved", decidedBy: member.userId, decidedAt: new Date() }).where(eq(staffRoleRequests.id, requestId)),
    ).rejects.toThrow();
    expect((await roleOf(member.userId))?.role).toBe("support");

    await stepUp(second, "staff_approve_admin_grant", { requestId });
    await stepUp(third, "staff_approve_admin_grant", { requestId });
    const outcomes = await Promise.allSettled([approveAdminGrant(second, { requestId }), approveAdminGrant(third, { requestId })]);
    expect(outcomes.filter((outcome) => outcome.status === "fulfilled")).toHaveLength(1);
    const rejected = outcomes.find((outcome) => outcome.status === "rejected");
    expect(rejected && (rejected.reason as BankError).code).toBe("not_found");
    expect((await roleOf(member.userId))?.role).toBe("admin");
    expect(await auditOf("staff.role.grant_approved", member.userId)).toHaveLength(1);
    expect(await auditOf("staff.role.changed", member.userId)).toEqual([
      { actorId: expect.any(String), details: { oldRole: "support", newRole: "admin", requestId } },
    ]);
    expect(await liveSessions(member.userId)).toBe(0);
    const [request] = await database().select().from(staffRoleRequests).where(eq(staffRoleRequests.id, requestId));
    expect(request?.status).toBe("approved");
  });

  it("lets any admin withdraw a waiting request", async () => {
    const requester = await createStaff("admin");
    const member = await createStaff("auditor");
    const grant = { staffId: member.userId, role: "admin" } as const;
    await stepUp(requester, "staff_change_role", grant);
    const filed = await changeStaffRole(requester, grant);
    if (filed.outcome !== "grant_requested") throw new Error("expected a request");
    await cancelAdminGrant(requester, { requestId: filed.requestId });
    await expectBankError(cancelAdminGrant(requester, { requestId: filed.requestId }), "not_found");
    expect((await roleOf(member.userId))?.role).toBe("auditor");
  });
});

describe("refusals generated from the permission matrix", () => {
  const operations: { name: string; permission: StaffPermission; run: (actor: Person, targets: Targets) => Promise<unknown> }[] = [
    { name: "listStaff", permission: "staff.read", run: (actor) => listStaff(actor as StaffSessionActor) },
    {
      name: "inviteStaff",
      permission: "staff.invite",
      run: (actor) => inviteStaff(actor as StaffSessionActor, { email: uniqueEmail("refused"), legalName: "Refused Invitee", role: "support" }),
    },
    {
      name: "changeStaffRole",
      permission: "staff.change_role",
      run: async (actor, targets) => {
        const input = { staffId: targets.member, role: "auditor" } as const;
        await stepUp(actor, "staff_change_role", input);
        return changeStaffRole(actor as StaffSessionActor, input);
      },
    },
    {
      name: "removeStaffAccess",
      permission: "staff.change_role",
      run: async (actor, targets) => {
        await stepUp(actor, "staff_remove_access", { staffId: targets.member });
        return removeStaffAccess(actor as StaffSessionActor, { staffId: targets.member });
      },
    },
    {
      name: "approveAdminGrant",
      permission: "staff.approve_admin_grant",
      run: async (actor, targets) => {
        await stepUp(actor, "staff_approve_admin_grant", { requestId: targets.request });
        return approveAdminGrant(actor as StaffSessionActor, { requestId: targets.request });
      },
    },
    {
      name: "cancelAdminGrant",
      permission: "staff.change_role",
      run: (actor, targets) => cancelAdminGrant(actor as StaffSessionActor, { requestId: targets.request }),
    },
  ];
  interface Targets {
    member: string;
    request: string;
  }
  const refusedCases = (["customer", "support", "auditor"] as const).flatMap((role) =>
    operations
      .filter((operation) => role === "customer" || !roleHasPermission(role, operation.permission))
      .map((operation) => [role, operation.name, operation] as const),
  );

  it("covers every role of the matrix", () => {
    expect(Object.keys(permissionMatrix).sort()).toEqual(["admin", "auditor", "support"]);
    expect(refusedCases.length).toBeGreaterThan(operations.length);
  });

  it.each(refusedCases)("%s is refused %s with not_found, and nothing changes", async (role, _name, operation) => {
    const requester = await createStaff("admin");
    const member = await createStaff("support");
    const requestId = crypto.randomUUID();
    await database().insert(staffRoleRequests).values({ id: requestId, targetUserId: member.userId, requestedRole: "admin", requestedBy: requester.userId });
    const actor = await createPerson(role);
    const snapshot = async () => ({
      member: await roleOf(member.userId),
      sessions: await liveSessions(member.userId),
      request: (await database().select({ status: staffRoleRequests.status }).from(staffRoleRequests).where(eq(staffRoleRequests.id, requestId)))[0],
      invitations: (await database().select({ id: staffInvitations.id }).from(staffInvitations).where(eq(staffInvitations.invitedBy, actor.userId))).length,
      events: (await database().select({ id: auditEvents.sequence }).from(auditEvents).where(inArray(auditEvents.actorId, [actor.userId]))).length,
    });
    const before = await snapshot();
    await expectBankError(operation.run(actor, { member: member.userId, request: requestId }), "not_found");
    expect(await snapshot()).toEqual(before);
  });
});

describe("the last admin", () => {
  it("of two admins removing each other at once, one succeeds and one admin remains", async () => {
    const [first, second] = [await createStaff("admin", "first"), await createStaff("admin", "second")];
    // Leave exactly these two admins with access in this database.
    const others = await database().select({ id: users.id }).from(users).where(eq(users.role, "admin"));
    for (const other of others) {
      if (other.id === first.userId || other.id === second.userId) continue;
      await database().update(users).set({ lockedUntil: staffAccessRemovedUntil }).where(eq(users.id, other.id));
    }
    await stepUp(first, "staff_remove_access", { staffId: second.userId });
    await stepUp(second, "staff_remove_access", { staffId: first.userId });
    const outcomes = await Promise.allSettled([
      removeStaffAccess(first, { staffId: second.userId }),
      removeStaffAccess(second, { staffId: first.userId }),
    ]);
    expect(outcomes.filter((outcome) => outcome.status === "fulfilled")).toHaveLength(1);
    const states = [await roleOf(first.userId), await roleOf(second.userId)];
    expect(states.filter((state) => state?.lockedUntil === null)).toHaveLength(1);
    // And the remaining admin cannot be demoted by anyone: the only one who could is themselves.
    const [remaining] = outcomes[0]?.status === "fulfilled" ? [first] : [second];
    await stepUp(remaining, "staff_change_role", { staffId: remaining.userId, role: "support" });
    await expectBankError(changeStaffRole(remaining, { staffId: remaining.userId, role: "support" }), "forbidden");
  });
});
