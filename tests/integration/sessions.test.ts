import { and, eq } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { database, databaseHandle } from "@/db/client";
import { applyMigrations } from "@/db/migrations";
import { auditEvents, sessions, users } from "@/db/schema";
import { seedDemoData } from "@/db/seed-demo-data";
import type { SessionActor } from "@/lib/auth/actor";
import {
  activityWriteIntervalSeconds,
  createSession,
  listMySessions,
  loadSessionRecord,
  revokeAllSessions,
  revokeMyOtherSessions,
  revokeMySession,
  revokeOtherSessions,
  revokeSession,
  validateSession,
} from "@/lib/auth/sessions";
import { blindIndex, normaliseEmail } from "@/lib/crypto";
import { BankError } from "@/lib/errors";
import { useIntegrationEnvironment } from "../helpers/integration-environment";

useIntegrationEnvironment();

// The same numbers as the configuration's defaults, which listMySessions reads.
const limits = { idleTimeoutSeconds: 900, absoluteLifetimeSeconds: 43_200 };

let aliceId: string;
let bobId: string;

async function userIdFor(email: string): Promise<string> {
  const index = await blindIndex("email", normaliseEmail(email));
  const [user] = await database().select({ id: users.id }).from(users).where(eq(users.emailBlindIndex, index));
  if (!user) throw new Error(`no user for ${email}`);
  return user.id;
}

function secondsAfter(moment: Date, seconds: number): Date {
  return new Date(moment.getTime() + seconds * 1000);
}

async function signIn(userId: string, now = new Date()): Promise<string> {
  return createSession(database(), { userId, ipAddress: "198.51.100.7", userAgent: "integration-test/1.0", showLockNotice: false }, now);
}

function actorFor(userId: string, sessionId: string): SessionActor {
  return { kind: "customer", userId, role: "customer", sessionId, ipAddress: "198.51.100.7", userAgent: "integration-test/1.0" };
}

async function row(sessionId: string) {
  const [found] = await database().select().from(sessions).where(eq(sessions.id, sessionId));
  if (!found) throw new Error(`no session ${sessionId}`);
  return found;
}

async function caught(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error("expected the call to fail");
}

beforeAll(async () => {
  await applyMigrations(databaseHandle());
  const seeded = await seedDemoData();
  if (!seeded.created) throw new Error("expected the seed to run on the fresh database");
  aliceId = await userIdFor("alice@example.com");
  bobId = await userIdFor("bob@example.com");
});

describe("createSession", () => {
  it("creates a live record with a new random id at every sign-in", async () => {
    const now = new Date();
    const first = await signIn(aliceId, now);
    const second = await signIn(aliceId, now);
    expect(first).not.toBe(second);
    expect(first).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    const stored = await row(first);
    expect(stored.userId).toBe(aliceId);
    expect(stored.createdAt.getTime()).toBe(now.getTime());
    expect(stored.lastSeenAt.getTime()).toBe(now.getTime());
    expect(stored.revokedAt).toBeNull();
    expect(stored.ipAddress).toBe("198.51.100.7");
  });
});

describe("validateSession", () => {
  it("accepts a fresh session and reports its idle and absolute deadlines", async () => {
    const signedInAt = new Date();
    const sessionId = await signIn(aliceId, signedInAt);
    const validation = await validateSession(database(), { sessionId, userId: aliceId }, { now: secondsAfter(signedInAt, 1), limits, recordActivity: false });
    expect(validation.accepted).toBe(true);
    if (!validation.accepted) return;
    expect(validation.session.idleExpiresAt).toEqual(secondsAfter(signedInAt, 900));
    expect(validation.session.absoluteExpiresAt).toEqual(secondsAfter(signedInAt, 43_200));
    expect(validation.session.role).toBe("customer");
  });

  it("moves last_seen_at only for activity, and at most once per write interval", async () => {
    const signedInAt = new Date();
    const sessionId = await signIn(aliceId, signedInAt);
    const identity = { sessionId, userId: aliceId };

    const polledAt = secondsAfter(signedInAt, 60);
    await validateSession(database(), identity, { now: polledAt, limits, recordActivity: false });
    expect((await row(sessionId)).lastSeenAt).toEqual(signedInAt);

    const tooSoon = secondsAfter(signedInAt, activityWriteIntervalSeconds - 1);
    await validateSession(database(), identity, { now: tooSoon, limits, recordActivity: true });
    expect((await row(sessionId)).lastSeenAt).toEqual(signedInAt);

    const activeAt = secondsAfter(signedInAt, 120);
    const validation = await validateSession(database(), identity, { now: activeAt, limits, recordActivity: true });
    expect((await row(sessionId)).lastSeenAt).toEqual(activeAt);
    expect(validation.accepted && validation.session.idleExpiresAt).toEqual(secondsAfter(activeAt, 900));
  });

  it("refuses a session idle for the whole limit, and marks it revoked so it stays refused", async () => {
    const signedInAt = new Date();
    const sessionId = await signIn(aliceId, signedInAt);
    const identity = { sessionId, userId: aliceId };
    const justBefore = new Date(secondsAfter(signedInAt, 900).getTime() - 1);
    expect((await validateSession(database(), identity, { now: justBefore, limits, recordActivity: false })).accepted).toBe(true);

    const atTheLimit = secondsAfter(signedInAt, 900);
    expect(await validateSession(database(), identity, { now: atTheLimit, limits, recordActivity: true })).toEqual({
      accepted: false,
      refusal: "idle",
    });
    const stored = await row(sessionId);
    expect(stored.revokedReason).toBe("idle_timeout");
    expect(stored.lastSeenAt).toEqual(signedInAt);
    // Even a clock that goes backwards cannot bring it back.
    expect(await validateSession(database(), identity, { now: justBefore, limits, recordActivity: true })).toEqual({
      accepted: false,
      refusal: "revoked",
    });
  });

  it("ends a session at its absolute lifetime however active it stays", async () => {
    const signedInAt = new Date();
    const sessionId = await signIn(aliceId, signedInAt);
    const identity = { sessionId, userId: aliceId };
    // Active every ten minutes for twelve hours: the idle limit never bites.
    for (let minutes = 10; minutes < 720; minutes += 10) {
      const validation = await validateSession(database(), identity, {
        now: secondsAfter(signedInAt, minutes * 60),
        limits,
        recordActivity: true,
      });
      expect(validation.accepted, `still signed in after ${minutes} minutes`).toBe(true);
    }
    expect(
      await validateSession(database(), identity, { now: secondsAfter(signedInAt, 43_200), limits, recordActivity: true }),
    ).toEqual({ accepted: false, refusal: "expired" });
    expect((await row(sessionId)).revokedReason).toBe("absolute_lifetime");
  });

  it("refuses and revokes the sessions of a locked user, and of one whose email is unverified", async () => {
    const now = new Date();
    const sessionId = await signIn(bobId, now);
    await database().update(users).set({ lockedUntil: secondsAfter(now, 900) }).where(eq(users.id, bobId));
    try {
      expect(await validateSession(database(), { sessionId, userId: bobId }, { now, limits, recordActivity: true })).toEqual({
        accepted: false,
        refusal: "locked",
      });
      expect((await row(sessionId)).revokedReason).toBe("account_locked");
    } finally {
      await database().update(users).set({ lockedUntil: null }).where(eq(users.id, bobId));
    }

    const verifiedAt = (await database().select({ at: users.emailVerifiedAt }).from(users).where(eq(users.id, bobId)))[0]?.at;
    const unverifiedSessionId = await signIn(bobId, now);
    await database().update(users).set({ emailVerifiedAt: null }).where(eq(users.id, bobId));
    try {
      expect(
        await validateSession(database(), { sessionId: unverifiedSessionId, userId: bobId }, { now, limits, recordActivity: true }),
      ).toEqual({ accepted: false, refusal: "unverified" });
    } finally {
      await database().update(users).set({ emailVerifiedAt: verifiedAt ?? now }).where(eq(users.id, bobId));
    }
  });

  it("refuses a token that names someone else's session, an unknown session or malformed ids", async () => {
    const bobSessionId = await signIn(bobId);
    expect(await loadSessionRecord(database(), { sessionId: bobSessionId, userId: aliceId })).toBeNull();
    const options = { now: new Date(), limits, recordActivity: true };
    expect(await validateSession(database(), { sessionId: bobSessionId, userId: aliceId }, options)).toEqual({
      accepted: false,
      refusal: "missing",
    });
    expect(await validateSession(database(), { sessionId: crypto.randomUUID(), userId: aliceId }, options)).toEqual({
      accepted: false,
      refusal: "missing",
    });
    expect(await validateSession(database(), { sessionId: "'; drop table sessions; --", userId: aliceId }, options)).toEqual({
      accepted: false,
      refusal: "missing",
    });
    // Bob's session was not touched by the attempt.
    expect((await row(bobSessionId)).revokedAt).toBeNull();
  });
});

describe("revokeSession", () => {
  it("ends one session with its reason, once", async () => {
    const sessionId = await signIn(aliceId);
    expect(await revokeSession(database(), sessionId, "sign_out")).toBe(true);
    expect(await revokeSession(database(), sessionId, "sign_out")).toBe(false);
    const stored = await row(sessionId);
    expect(stored.revokedReason).toBe("sign_out");
    expect(stored.revokedAt).not.toBeNull();
    const validation = await validateSession(database(), { sessionId, userId: aliceId }, { now: new Date(), limits, recordActivity: true });
    expect(validation).toEqual({ accepted: false, refusal: "revoked" });
  });
});

describe("listMySessions and revokeMySession", () => {
  it("lists only the actor's live sessions, the current one first and marked", async () => {
    await revokeAllSessions(database(), aliceId, "password_reset");
    const now = new Date();
    const older = await signIn(aliceId, secondsAfter(now, -120));
    const current = await signIn(aliceId, secondsAfter(now, -60));
    const revoked = await signIn(aliceId, now);
    await revokeSession(database(), revoked, "sign_out");
    const idle = await signIn(aliceId, secondsAfter(now, -901));
    const bobs = await signIn(bobId, now);

    const listed = await listMySessions(actorFor(aliceId, current), now);

    expect(listed.map((session) => session.id)).toEqual([current, older]);
    expect(listed.map((session) => session.isCurrent)).toEqual([true, false]);
    expect(listed.map((session) => session.id)).not.toContain(idle);
    expect(listed.map((session) => session.id)).not.toContain(bobs);
    expect(Object.keys(listed[0] ?? {}).sort()).toEqual(["createdAt", "id", "ipAddress", "isCurrent", "lastSeenAt", "userAgent"]);
  });

  it("revokes the actor's own session and writes an audit event", async () => {
    const current = await signIn(aliceId);
    const other = await signIn(aliceId);
    await revokeMySession(actorFor(aliceId, current), other);
    expect((await row(other)).revokedReason).toBe("revoked_by_owner");
    expect((await row(current)).revokedAt).toBeNull();
    const events = await database()
      .select({ action: auditEvents.action, actorId: auditEvents.actorId })
      .from(auditEvents)
      .where(and(eq(auditEvents.targetType, "session"), eq(auditEvents.targetId, other)));
    expect(events).toEqual([{ action: "auth.session.revoked", actorId: aliceId }]);
  });

  it("answers not_found for another user's session and leaves it alone", async () => {
    const aliceSession = await signIn(aliceId);
    const bobSession = await signIn(bobId);
    const error = await caught(revokeMySession(actorFor(aliceId, aliceSession), bobSession));
    expect(error).toBeInstanceOf(BankError);
    expect((error as BankError).code).toBe("not_found");
    expect((await row(bobSession)).revokedAt).toBeNull();
    const validation = await validateSession(database(), { sessionId: bobSession, userId: bobId }, { now: new Date(), limits, recordActivity: false });
    expect(validation.accepted).toBe(true);
  });

  it.each([
    ["an unknown id", () => crypto.randomUUID()],
    ["a malformed id", () => "not-a-session"],
  ])("answers not_found for %s", async (_name, makeId) => {
    const current = await signIn(aliceId);
    const error = await caught(revokeMySession(actorFor(aliceId, current), makeId()));
    expect((error as BankError).code).toBe("not_found");
  });

  it("answers not_found for a session already ended", async () => {
    const current = await signIn(aliceId);
    const ended = await signIn(aliceId);
    await revokeSession(database(), ended, "sign_out");
    const error = await caught(revokeMySession(actorFor(aliceId, current), ended));
    expect((error as BankError).code).toBe("not_found");
    expect((await row(ended)).revokedReason).toBe("sign_out");
  });
});

describe("signing out other sessions", () => {
  it("revokeMyOtherSessions ends every other session of the actor and no one else's", async () => {
    await revokeAllSessions(database(), aliceId, "password_reset");
    const current = await signIn(aliceId);
    const others = [await signIn(aliceId), await signIn(aliceId)];
    const bobs = await signIn(bobId);

    expect(await revokeMyOtherSessions(actorFor(aliceId, current))).toBe(2);

    for (const other of others) expect((await row(other)).revokedReason).toBe("signed_out_elsewhere");
    expect((await row(current)).revokedAt).toBeNull();
    expect((await row(bobs)).revokedAt).toBeNull();
  });

  it("revokeOtherSessions and revokeAllSessions commit and roll back with the caller's transaction", async () => {
    await revokeAllSessions(database(), aliceId, "password_reset");
    const kept = await signIn(aliceId);
    const other = await signIn(aliceId);

    const rollback = new Error("the password change failed after the sessions were revoked");
    await expect(
      database().transaction(async (tx) => {
        expect(await revokeAllSessions(tx, aliceId, "password_reset")).toBe(2);
        throw rollback;
      }),
    ).rejects.toBe(rollback);
    expect((await row(kept)).revokedAt).toBeNull();
    expect((await row(other)).revokedAt).toBeNull();

    await database().transaction(async (tx) => {
      expect(await revokeOtherSessions(tx, aliceId, kept, "password_changed")).toBe(1);
    });
    expect((await row(kept)).revokedAt).toBeNull();
    expect((await row(other)).revokedReason).toBe("password_changed");

    await database().transaction(async (tx) => {
      expect(await revokeAllSessions(tx, aliceId, "staff_lock")).toBe(1);
    });
    expect((await row(kept)).revokedReason).toBe("staff_lock");
  });
});
