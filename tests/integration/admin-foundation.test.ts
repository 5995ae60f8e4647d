import { and, eq } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { database, databaseHandle } from "@/db/client";
import { applyMigrations } from "@/db/migrations";
import { auditEvents, sessions, transfers, users } from "@/db/schema";
import { seedDemoData } from "@/db/seed-demo-data";
import { createFirstAdmin } from "@/lib/admin/create-first-admin";
import { readOverview } from "@/lib/admin/overview";
import type { Actor } from "@/lib/auth/actor";
import { verifyPassword } from "@/lib/auth/password";
import { createSession, validateSession } from "@/lib/auth/sessions";
import { blindIndex, normaliseEmail } from "@/lib/crypto";
import { BankError } from "@/lib/errors";
import { useIntegrationEnvironment } from "../helpers/integration-environment";

useIntegrationEnvironment();

const limits = { idleTimeoutSeconds: 900, staffIdleTimeoutSeconds: 600, absoluteLifetimeSeconds: 43_200 };

async function userIdFor(email: string): Promise<string> {
  const index = await blindIndex("email", normaliseEmail(email));
  const [user] = await database().select({ id: users.id }).from(users).where(eq(users.emailBlindIndex, index));
  if (!user) throw new Error(`no user for ${email}`);
  return user.id;
}

function secondsAfter(moment: Date, seconds: number): Date {
  return new Date(moment.getTime() + seconds * 1000);
}

async function expectNotFound(promise: Promise<unknown>): Promise<void> {
  const error = await promise.then(
    () => null,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(BankError);
  expect((error as BankError).code).toBe("not_found");
}

describe("admin:create on an empty database", () => {
  beforeAll(async () => {
    await applyMigrations(databaseHandle());
  });

  it("refuses an invalid email address", async () => {
    await expect(createFirstAdmin({ email: "not-an-address", legalName: "Grace Hopper" })).rejects.toMatchObject({
      code: "invalid_input",
    });
  });

  it("creates one verified, enrolled admin with a strong password, audited, and refuses a second", async () => {
    const outcome = await createFirstAdmin({ email: "  Grace.Hopper@Example.com ", legalName: "Grace Hopper" });
    if (!outcome.created) throw new Error("expected an admin to be created");
    const { admin } = outcome;
    expect(admin.email).toBe("grace.hopper@example.com");
    expect(admin.password.length).toBeGreaterThanOrEqual(32);
    expect(admin.otpauthUri).toMatch(/^otpauth:\/\/totp\//);
    expect(admin.otpauthUri).toContain(`secret=${admin.totpSecret}`);

    const [stored] = await database().select().from(users).where(eq(users.id, admin.userId));
    if (!stored) throw new Error("the admin was not stored");
    expect(stored.role).toBe("admin");
    expect(stored.emailVerifiedAt).not.toBeNull();
    expect(stored.totpEnrolledAt).not.toBeNull();
    // Stored like every user: found by the email's blind index, nothing in clear.
    expect(await userIdFor("grace.hopper@example.com")).toBe(admin.userId);
    expect(stored.emailCiphertext).not.toContain("grace");
    expect(stored.totpSecretCiphertext).not.toContain(admin.totpSecret);
    expect(await verifyPassword(stored.passwordHash, admin.password)).toBe(true);

    const events = await database()
      .select()
      .from(auditEvents)
      .where(and(eq(auditEvents.action, "staff.admin.created"), eq(auditEvents.targetId, admin.userId)));
    expect(events).toHaveLength(1);
    expect(events[0]?.actorRole).toBe("system");
    expect(JSON.stringify(events[0]?.details)).not.toContain("grace");

    expect(await createFirstAdmin({ email: "someone.else@example.com", legalName: "Someone Else" })).toEqual({
      created: false,
      reason: "admin_exists",
    });
  });
});

describe("with the demo bank", () => {
  let aliceId: string;
  let samId: string;

  beforeAll(async () => {
    // The admin created above makes the seed's "empty database" check fail, so remove it first (no other rows
    // point at it: it never signed in).
    await database().delete(users).where(eq(users.role, "admin"));
    const seeded = await seedDemoData();
    if (!seeded.created) throw new Error("expected the seed to run");
    aliceId = await userIdFor("alice@example.com");
    samId = await userIdFor("sam.support@example.com");
  });

  it("staff sessions end after the staff idle limit, customers' after theirs", async () => {
    const signedInAt = new Date();
    const staffSession = await createSession(database(), { userId: samId, ipAddress: null, userAgent: null, showLockNotice: false }, signedInAt);
    const customerSession = await createSession(database(), { userId: aliceId, ipAddress: null, userAgent: null, showLockNotice: false }, signedInAt);
    const accepted = await validateSession(database(), { sessionId: staffSession, userId: samId }, { now: secondsAfter(signedInAt, 1), limits, recordActivity: false });
    if (!accepted.accepted) throw new Error("expected the staff session to be accepted");
    // The deadline the timeout dialog is given is the staff one.
    expect(accepted.session.idleExpiresAt).toEqual(secondsAfter(signedInAt, 600));
    const later = secondsAfter(signedInAt, 601);
    expect(await validateSession(database(), { sessionId: staffSession, userId: samId }, { now: later, limits, recordActivity: false })).toEqual({
      accepted: false,
      refusal: "idle",
    });
    expect((await validateSession(database(), { sessionId: customerSession, userId: aliceId }, { now: later, limits, recordActivity: false })).accepted).toBe(true);
  });

  it("a staff account without an enrolled authenticator never has a usable session", async () => {
    const auditorId = await userIdFor("audrey.auditor@example.com");
    await database().update(users).set({ totpSecretCiphertext: null, totpEnrolledAt: null }).where(eq(users.id, auditorId));
    const sessionId = await createSession(database(), { userId: auditorId, ipAddress: null, userAgent: null, showLockNotice: false });
    expect(await validateSession(database(), { sessionId, userId: auditorId }, { now: new Date(), limits, recordActivity: true })).toEqual({
      accepted: false,
      refusal: "no_second_factor",
    });
    const [revoked] = await database().select().from(sessions).where(eq(sessions.id, sessionId));
    expect(revoked?.revokedReason).toBe("staff_without_second_factor");
  });

  it("the overview counts customers, deposits per currency, today's and held transfers and locked customers", async () => {
    const staff: Actor = { kind: "staff", role: "support", userId: samId, ipAddress: null, userAgent: null };
    await database().update(users).set({ lockedUntil: secondsAfter(new Date(), 600) }).where(eq(users.id, aliceId));
    const overview = await readOverview(staff);
    expect(overview.customerCount).toBe(4);
    // The seed's opening deposits: Alice 52,340.17 + 75,000.00, Bob 61,000.50 + 120,000.00.
    expect(overview.depositTotals).toEqual([{ currency: expect.any(String) as string, totalMinor: 56_564_067n }]);
    const transferCount = (await database().select({ id: transfers.id }).from(transfers)).length;
    expect(overview.transfersCreatedToday).toBe(transferCount);
    expect(overview.heldTransfersWaiting).toBe(0);
    expect(overview.customersLockedOut).toBe(1);
    await database().update(users).set({ lockedUntil: null }).where(eq(users.id, aliceId));
  });

  it("the overview is not found for a customer and for nobody", async () => {
    await expectNotFound(readOverview({ kind: "customer", role: "customer", userId: aliceId, ipAddress: null, userAgent: null }));
    await expectNotFound(readOverview(null));
  });
});
