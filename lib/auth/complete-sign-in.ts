import "server-only";
import crypto from "node:crypto";
import { and, desc, eq } from "drizzle-orm";
import { database, type Queryable } from "@/db/client";
import { knownDevices, signInEvents, users } from "@/db/schema";
import type { RequestContext } from "@/lib/auth/actor";
import { recordAuditEvent } from "@/lib/audit/record-audit-event";
import { createSession } from "@/lib/auth/sessions";
import { claimSignInTicket } from "@/lib/auth/sign-in-tickets";
import { decryptField } from "@/lib/crypto";
import { enqueueEmail } from "@/lib/mail/outbox";
import { scheduleEmailDelivery } from "@/lib/mail/schedule-delivery";
import { countSignInOutcome } from "@/lib/metrics/registry";

/**
 * The last step of a sign-in: a ticket whose password and second factor were both proven becomes a session.
 *
 * Only here does a sign-in count as a success: the login history's "succeeded" row, the audit event, the
 * new-device email and the lock notice all belong to a completed sign-in, not to a right password (a password
 * alone proves too little to tell the owner "you signed in"). The failure count is set to zero again here as
 * well as when the code was verified, so that it holds even for a first sign-in that enrolled an authenticator
 * (enrolment does not touch the count, because a wrong enrolment code is never counted).
 */

/** What a completed sign-in yields: the user and the id of the new session record. */
export interface CompletedSignIn {
  userId: string;
  sessionId: string;
  /** The account was locked since the previous completed sign-in (the session shows a notice once). */
  showLockNotice: boolean;
}

/**
 * Claims the ticket (once, for this browser, only after its second factor) and creates a new session record,
 * with a new random id, whose `second_factor_at` is now. Null when the ticket cannot be claimed: unknown, used,
 * expired, another browser's, or its second factor not done.
 */
export async function completeSignIn(
  ticket: { token: string; browserBinding: string },
  deviceId: string | undefined,
  context: RequestContext,
): Promise<CompletedSignIn | null> {
  const claimed = await claimSignInTicket(ticket.token, ticket.browserBinding);
  if (!claimed) return null;
  const { showLockNotice, newDevice, sessionId } = await database().transaction(async (tx) => {
    const [user] = await tx
      .select({ role: users.role, lastLockedAt: users.lastLockedAt })
      .from(users)
      .where(eq(users.id, claimed.userId))
      .limit(1);
    const [previousSuccess] = await tx
      .select({ occurredAt: signInEvents.occurredAt })
      .from(signInEvents)
      .where(and(eq(signInEvents.userId, claimed.userId), eq(signInEvents.outcome, "succeeded")))
      .orderBy(desc(signInEvents.occurredAt))
      .limit(1);
    await tx.update(users).set({ failedSignInCount: 0 }).where(eq(users.id, claimed.userId));
    await tx.insert(signInEvents).values({ userId: claimed.userId, outcome: "succeeded", ...context });
    // The account was locked since the previous completed sign-in: the first page says so, once.
    const lockNotice = Boolean(
      user?.lastLockedAt && (!previousSuccess || user.lastLockedAt > previousSuccess.occurredAt),
    );
    const deviceIsNew = await rememberDevice(tx, claimed.userId, deviceId, Boolean(previousSuccess), context);
    await recordAuditEvent(tx, {
      actorId: claimed.userId,
      actorRole: user?.role ?? null,
      action: "auth.sign_in.succeeded",
      targetType: "user",
      targetId: claimed.userId,
      ...context,
      details: { newDevice: deviceIsNew },
    });
    // A new record with a new random id at every sign-in: a session id planted before sign-in can never become a
    // signed-in one (no session fixation).
    const createdSessionId = await createSession(tx, {
      userId: claimed.userId,
      ...context,
      showLockNotice: lockNotice,
      secondFactorAt: new Date(),
    });
    return { showLockNotice: lockNotice, newDevice: deviceIsNew, sessionId: createdSessionId };
  });
  if (newDevice) scheduleEmailDelivery();
  countSignInOutcome("success");
  return { userId: claimed.userId, sessionId, showLockNotice };
}

function deviceHashOf(userId: string, deviceId: string): string {
  return crypto.createHash("sha256").update(`${userId}:${deviceId}`).digest("hex");
}

/**
 * Records the device and, when it is new to an account that has signed in before, emails the owner. The very
 * first sign-in after registration is not announced: there is no earlier device to compare with.
 */
async function rememberDevice(
  tx: Queryable,
  userId: string,
  deviceId: string | undefined,
  hasSignedInBefore: boolean,
  context: RequestContext,
): Promise<boolean> {
  const deviceHash = deviceHashOf(userId, deviceId ?? crypto.randomUUID());
  const inserted = await tx
    .insert(knownDevices)
    .values({ userId, deviceHash })
    .onConflictDoUpdate({ target: [knownDevices.userId, knownDevices.deviceHash], set: { lastSeenAt: new Date() } })
    .returning({ firstSeenAt: knownDevices.firstSeenAt, lastSeenAt: knownDevices.lastSeenAt });
  const isNew = inserted[0] ? inserted[0].firstSeenAt.getTime() === inserted[0].lastSeenAt.getTime() : false;
  if (!isNew || !hasSignedInBefore) return false;
  const [owner] = await tx
    .select({ emailCiphertext: users.emailCiphertext })
    .from(users)
    .where(eq(users.id, userId))
    .limit(1);
  if (!owner) return false;
  const email = await decryptField(owner.emailCiphertext, { table: "users", column: "email", rowId: userId });
  await enqueueEmail(
    tx,
    { userId, email },
    {
      template: "new_device_sign_in",
      occurredAt: new Date().toUTCString(),
      ipAddress: context.ipAddress ?? "unknown",
      userAgent: (context.userAgent ?? "unknown").slice(0, 200),
    },
  );
  return true;
}
