import "server-only";
import { and, desc, eq, gt, isNull, lt, ne, sql } from "drizzle-orm";
import { database, type Queryable } from "@/db/client";
import { sessions, users } from "@/db/schema";
import type { SessionActor } from "@/lib/auth/actor";
import { recordAuditEvent } from "@/lib/audit/record-audit-event";
import { env } from "@/lib/env";
import { BankError } from "@/lib/errors";

/**
 * Server-side session records: the other half of the JWT cookie, which names one of these rows and nothing else.
 * A cookie is only as good as its row: every request reads the row (and the user) and refuses a session that
 * is revoked, idle for too long, too old, or whose user is locked or unverified. That is what makes sign-out,
 * "sign out everywhere else", a password reset and a staff lock take effect on the very next request, which a
 * self-contained JWT cannot do.
 *
 * Time comes from the application's clock (`now`), never from the database's `now()`: the row's timestamps are
 * written and compared by the same clock, and tests can pass any `now` to check expiry without sleeping.
 */

/** Why a session ended. Stored in `sessions.revoked_reason`; the audit trail uses the same words. */
export type SessionRevocationReason =
  | "sign_out"
  | "revoked_by_owner"
  | "signed_out_elsewhere"
  | "password_changed"
  | "password_reset"
  | "staff_lock"
  | "staff_role_changed"
  | "mfa_reset"
  | "idle_timeout"
  | "absolute_lifetime"
  | "account_locked"
  | "email_unverified"
  | "staff_without_second_factor";

/** Why a request's session was not accepted. */
export type SessionRefusal = "missing" | "revoked" | "idle" | "expired" | "locked" | "unverified" | "no_second_factor";

export interface SessionLimits {
  idleTimeoutSeconds: number;
  /** The idle limit of staff sessions (shorter: a staff session reaches every customer). Defaults to the above. */
  staffIdleTimeoutSeconds?: number;
  absoluteLifetimeSeconds: number;
}

/** What the session check needs to know: the row and the few user fields that can end a session. */
export interface SessionRecord {
  sessionId: string;
  userId: string;
  role: "customer" | "admin" | "support" | "auditor";
  createdAt: Date;
  lastSeenAt: Date;
  revokedAt: Date | null;
  showLockNotice: boolean;
  lockedUntil: Date | null;
  emailVerifiedAt: Date | null;
  /** Whether the user has a confirmed authenticator (`users.totp_enrolled_at` is set). */
  totpEnrolled: boolean;
}

/** An accepted session, with the two moments at which it will end unless something ends it sooner. */
export interface ValidSession {
  sessionId: string;
  userId: string;
  role: SessionRecord["role"];
  lastSeenAt: Date;
  /** `last_seen_at` + the idle limit: activity before this moment pushes it back. */
  idleExpiresAt: Date;
  /** `created_at` + the absolute lifetime: nothing pushes this back. */
  absoluteExpiresAt: Date;
  showLockNotice: boolean;
}

export type SessionVerdict =
  | { accepted: true; idleExpiresAt: Date; absoluteExpiresAt: Date }
  | { accepted: false; refusal: SessionRefusal };

/**
 * `last_seen_at` is written at most once per this many seconds per session. A page render asks for the session
 * several times and a customer clicking around produces bursts of requests; one write per burst is enough for an
 * idle limit measured in minutes, and it saves a database round trip on most requests. The idle deadline the
 * dialog shows is computed from the stored value, so browser and server always agree on it (it can only be up to
 * this many seconds earlier than the last request, never later).
 */
export const activityWriteIntervalSeconds = 5;

// Stored user agents are attacker-controlled text; a bound keeps one sign-in from bloating the table.
const maximumUserAgentLength = 512;
const maximumIpAddressLength = 64;
const maximumListedSessions = 50;

// A token can only carry ids this server wrote (it is encrypted with our secret), but a malformed id would make
// PostgreSQL raise "invalid input syntax for type uuid" (a 500); checking the shape first turns it into a refusal.
const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isSessionIdShaped(value: unknown): value is string {
  return typeof value === "string" && uuidPattern.test(value);
}

function addSeconds(moment: Date, seconds: number): Date {
  return new Date(moment.getTime() + seconds * 1000);
}

export function sessionLimitsFromConfiguration(): SessionLimits {
  const configuration = env();
  return {
    idleTimeoutSeconds: configuration.sessionIdleTimeoutSeconds,
    staffIdleTimeoutSeconds: configuration.staffSessionIdleTimeoutSeconds,
    absoluteLifetimeSeconds: configuration.sessionAbsoluteLifetimeSeconds,
  };
}

/** The idle limit that applies to a session of this role. */
export function idleTimeoutSecondsFor(role: SessionRecord["role"], limits: SessionLimits): number {
  return role === "customer" ? limits.idleTimeoutSeconds : (limits.staffIdleTimeoutSeconds ?? limits.idleTimeoutSeconds);
}

/**
 * The whole session rule, as a pure function of the record and the time. A deadline is exclusive: at the very
 * moment `idleExpiresAt` (or `absoluteExpiresAt`) is reached the session is over, so the browser's countdown
 * reaching zero and the server's refusal coincide.
 */
export function checkSessionRecord(record: SessionRecord | null, now: Date, limits: SessionLimits): SessionVerdict {
  if (record === null) return { accepted: false, refusal: "missing" };
  if (record.revokedAt !== null) return { accepted: false, refusal: "revoked" };
  // A lock (a staff lock, or the lockout after repeated wrong passwords) ends every session of the account: the
  // person locked out may be the one holding a stolen cookie.
  if (record.lockedUntil !== null && record.lockedUntil.getTime() > now.getTime()) return { accepted: false, refusal: "locked" };
  if (record.emailVerifiedAt === null) return { accepted: false, refusal: "unverified" };
  // Staff must never act on a password alone. Sign-in already sends a user without an authenticator to the
  // enrolment page before any session exists, but a staff session is checked here on every request as well, so
  // that no other path (a future sign-in method, an authenticator removed by a reset, a row written by hand) can
  // ever give staff a usable session without a second factor.
  if (record.role !== "customer" && !record.totpEnrolled) return { accepted: false, refusal: "no_second_factor" };
  const absoluteExpiresAt = addSeconds(record.createdAt, limits.absoluteLifetimeSeconds);
  if (now.getTime() >= absoluteExpiresAt.getTime()) return { accepted: false, refusal: "expired" };
  const idleExpiresAt = addSeconds(record.lastSeenAt, idleTimeoutSecondsFor(record.role, limits));
  if (now.getTime() >= idleExpiresAt.getTime()) return { accepted: false, refusal: "idle" };
  return { accepted: true, idleExpiresAt, absoluteExpiresAt };
}

/** A refused session that can never come back is marked revoked, so that it also stays refused later. */
const revocationForRefusal: Partial<Record<SessionRefusal, SessionRevocationReason>> = {
  idle: "idle_timeout",
  expired: "absolute_lifetime",
  locked: "account_locked",
  unverified: "email_unverified",
  no_second_factor: "staff_without_second_factor",
};

/**
 * Creates the record for a fresh sign-in and returns its id: a new random id every time, so no fixation.
 * `secondFactorAt` is when the sign-in's second factor was proven; it starts the step-up window, so a customer who
 * has just typed a code is not asked for another one at once.
 */
export async function createSession(
  queryable: Queryable,
  input: {
    userId: string;
    ipAddress: string | null;
    userAgent: string | null;
    showLockNotice: boolean;
    secondFactorAt?: Date | null;
  },
  now: Date = new Date(),
): Promise<string> {
  const sessionId = crypto.randomUUID();
  await queryable.insert(sessions).values({
    id: sessionId,
    userId: input.userId,
    createdAt: now,
    lastSeenAt: now,
    ipAddress: input.ipAddress ? input.ipAddress.slice(0, maximumIpAddressLength) : null,
    userAgent: input.userAgent ? input.userAgent.slice(0, maximumUserAgentLength) : null,
    showLockNotice: input.showLockNotice,
    secondFactorAt: input.secondFactorAt ?? null,
  });
  return sessionId;
}

/** The record named by a token, joined with its user; null when there is none for this exact pair of ids. */
export async function loadSessionRecord(
  queryable: Queryable,
  identity: { sessionId: string; userId: string },
): Promise<SessionRecord | null> {
  if (!isSessionIdShaped(identity.sessionId) || !isSessionIdShaped(identity.userId)) return null;
  const [record] = await queryable
    .select({
      sessionId: sessions.id,
      userId: sessions.userId,
      role: users.role,
      createdAt: sessions.createdAt,
      lastSeenAt: sessions.lastSeenAt,
      revokedAt: sessions.revokedAt,
      showLockNotice: sessions.showLockNotice,
      lockedUntil: users.lockedUntil,
      emailVerifiedAt: users.emailVerifiedAt,
      totpEnrolled: sql<boolean>`${users.totpEnrolledAt} is not null`,
    })
    .from(sessions)
    .innerJoin(users, eq(users.id, sessions.userId))
    // Both ids must match: a token names its user as well, and a row of another user is not this session.
    .where(and(eq(sessions.id, identity.sessionId), eq(sessions.userId, identity.userId)))
    .limit(1);
  return record ?? null;
}

export type SessionValidation = { accepted: true; session: ValidSession } | { accepted: false; refusal: SessionRefusal };

/**
 * Loads and checks the session named by a token. On acceptance, and only when `recordActivity` is set, moves
 * `last_seen_at` to `now` (at most once per `activityWriteIntervalSeconds`). A session refused for good (idle,
 * too old, locked, unverified) is marked revoked on the way out.
 */
export async function validateSession(
  queryable: Queryable,
  identity: { sessionId: string; userId: string },
  options: { now: Date; limits: SessionLimits; recordActivity: boolean },
): Promise<SessionValidation> {
  const { now, limits } = options;
  const record = await loadSessionRecord(queryable, identity);
  const verdict = checkSessionRecord(record, now, limits);
  if (!verdict.accepted) {
    const reason = revocationForRefusal[verdict.refusal];
    if (record && reason) await revokeSession(queryable, record.sessionId, reason, now);
    return verdict;
  }
  if (!record) throw new BankError("internal", { internalMessage: "accepted a session without a record" });

  let lastSeenAt = record.lastSeenAt;
  if (options.recordActivity && now.getTime() - lastSeenAt.getTime() >= activityWriteIntervalSeconds * 1000) {
    // Guarded: a session revoked since it was read is not touched, and a later write by a parallel request is
    // never moved backwards.
    const [touched] = await queryable
      .update(sessions)
      .set({ lastSeenAt: now })
      .where(and(eq(sessions.id, record.sessionId), isNull(sessions.revokedAt), lt(sessions.lastSeenAt, now)))
      .returning({ lastSeenAt: sessions.lastSeenAt });
    if (touched) lastSeenAt = touched.lastSeenAt;
  }
  return {
    accepted: true,
    session: {
      sessionId: record.sessionId,
      userId: record.userId,
      role: record.role,
      lastSeenAt,
      idleExpiresAt: addSeconds(lastSeenAt, idleTimeoutSecondsFor(record.role, limits)),
      absoluteExpiresAt: verdict.absoluteExpiresAt,
      showLockNotice: record.showLockNotice,
    },
  };
}

/** Ends one session (sign-out). Returns whether a live session was ended. */
export async function revokeSession(
  queryable: Queryable,
  sessionId: string,
  reason: SessionRevocationReason,
  now: Date = new Date(),
): Promise<boolean> {
  if (!isSessionIdShaped(sessionId)) return false;
  const revoked = await queryable
    .update(sessions)
    .set({ revokedAt: now, revokedReason: reason })
    .where(and(eq(sessions.id, sessionId), isNull(sessions.revokedAt)))
    .returning({ id: sessions.id });
  return revoked.length > 0;
}

/**
 * Ends every live session of a user except one (a password change keeps the session it was made in).
 * Takes a queryable so that it commits or rolls back with the change that requires it. Returns how many ended.
 */
export async function revokeOtherSessions(
  queryable: Queryable,
  userId: string,
  keepSessionId: string,
  reason: SessionRevocationReason,
  now: Date = new Date(),
): Promise<number> {
  // The id to keep comes from the actor, so a malformed one is our own bug; it must fail loudly rather than reach
  // the database (a uuid cast error) or, worse, keep nothing.
  if (!isSessionIdShaped(keepSessionId)) throw new BankError("internal", { internalMessage: "malformed session id to keep" });
  const revoked = await queryable
    .update(sessions)
    .set({ revokedAt: now, revokedReason: reason })
    .where(and(eq(sessions.userId, userId), ne(sessions.id, keepSessionId), isNull(sessions.revokedAt)))
    .returning({ id: sessions.id });
  return revoked.length;
}

/**
 * Ends every live session of a user (password reset, staff lock). Takes a queryable so that it runs inside the
 * caller's transaction. Returns how many ended.
 */
export async function revokeAllSessions(
  queryable: Queryable,
  userId: string,
  reason: SessionRevocationReason,
  now: Date = new Date(),
): Promise<number> {
  const revoked = await queryable
    .update(sessions)
    .set({ revokedAt: now, revokedReason: reason })
    .where(and(eq(sessions.userId, userId), isNull(sessions.revokedAt)))
    .returning({ id: sessions.id });
  return revoked.length;
}

/** What the security page shows of one session. Never the row. */
export interface SessionSummary {
  id: string;
  createdAt: Date;
  lastSeenAt: Date;
  ipAddress: string | null;
  userAgent: string | null;
  /** The session this request is made in. */
  isCurrent: boolean;
}

/** The actor's live sessions: the current one first, then the most recently active. */
export async function listMySessions(actor: SessionActor, now: Date = new Date()): Promise<SessionSummary[]> {
  // Types are not validation: the check that this is a signed-in person is repeated where the data is read.
  if (actor.kind !== "customer" && actor.kind !== "staff") throw new BankError("not_found");
  const limits = sessionLimitsFromConfiguration();
  const rows = await database()
    .select({
      id: sessions.id,
      createdAt: sessions.createdAt,
      lastSeenAt: sessions.lastSeenAt,
      ipAddress: sessions.ipAddress,
      userAgent: sessions.userAgent,
    })
    .from(sessions)
    .where(
      and(
        // The ownership filter: only this user's sessions exist for them.
        eq(sessions.userId, actor.userId),
        isNull(sessions.revokedAt),
        gt(sessions.lastSeenAt, addSeconds(now, -limits.idleTimeoutSeconds)),
        gt(sessions.createdAt, addSeconds(now, -limits.absoluteLifetimeSeconds)),
      ),
    )
    .orderBy(desc(sessions.lastSeenAt))
    .limit(maximumListedSessions);
  const summaries = rows.map((row) => ({ ...row, isCurrent: row.id === actor.sessionId }));
  return [...summaries.filter((session) => session.isCurrent), ...summaries.filter((session) => !session.isCurrent)];
}

/**
 * Ends one of the actor's own sessions (the security page's "Revoke"). Another user's session id, an unknown id
 * and an already ended session all answer not_found: the caller learns nothing about sessions that are not theirs.
 */
export async function revokeMySession(actor: SessionActor, sessionId: string): Promise<void> {
  if (actor.kind !== "customer" && actor.kind !== "staff") throw new BankError("not_found");
  if (!isSessionIdShaped(sessionId)) throw new BankError("not_found");
  await database().transaction(async (tx) => {
    const revoked = await tx
      .update(sessions)
      .set({ revokedAt: new Date(), revokedReason: "revoked_by_owner" })
      .where(and(eq(sessions.id, sessionId), eq(sessions.userId, actor.userId), isNull(sessions.revokedAt)))
      .returning({ id: sessions.id });
    if (revoked.length === 0) throw new BankError("not_found");
    await recordAuditEvent(tx, {
      actorId: actor.userId,
      actorRole: actor.role,
      action: "auth.session.revoked",
      targetType: "session",
      targetId: sessionId,
      ipAddress: actor.ipAddress,
      userAgent: actor.userAgent,
      details: { reason: "revoked_by_owner", current: sessionId === actor.sessionId },
    });
  });
}

/** Ends every other session of the actor ("Sign out everywhere else"). Returns how many ended. */
export async function revokeMyOtherSessions(actor: SessionActor): Promise<number> {
  if (actor.kind !== "customer" && actor.kind !== "staff") throw new BankError("not_found");
  return database().transaction(async (tx) => {
    const count = await revokeOtherSessions(tx, actor.userId, actor.sessionId, "signed_out_elsewhere");
    await recordAuditEvent(tx, {
      actorId: actor.userId,
      actorRole: actor.role,
      action: "auth.session.revoked_others",
      targetType: "user",
      targetId: actor.userId,
      ipAddress: actor.ipAddress,
      userAgent: actor.userAgent,
      details: { count },
    });
    return count;
  });
}
