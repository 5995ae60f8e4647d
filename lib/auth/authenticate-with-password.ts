import "server-only";
import crypto from "node:crypto";
import { and, desc, eq } from "drizzle-orm";
import { z } from "zod";
import { database, type Queryable } from "@/db/client";
import { knownDevices, signInEvents, users } from "@/db/schema";
import type { RequestContext } from "@/lib/auth/actor";
import { recordAuditEvent } from "@/lib/audit/record-audit-event";
import { recordFailedAttempt } from "@/lib/auth/lockout";
import { hashPassword, passwordHashNeedsRehash, verifyPassword } from "@/lib/auth/password";
import { blindIndex, decryptField, normaliseEmail } from "@/lib/crypto";
import { enqueueEmail } from "@/lib/mail/outbox";
import { scheduleEmailDelivery } from "@/lib/mail/schedule-delivery";
import { signInSchema } from "@/lib/validation/sign-in";

// The same field rules as the sign-in form (lib/validation), so that a direct POST to Auth.js's callback
// is cleaned exactly like the form. Not strict: Auth.js adds its own fields (csrfToken, callbackUrl).
// The password's upper bound keeps an attacker from making argon2 hash megabytes. The device id is the
// random value of the browser's device cookie, sent by the sign-in action; anything else is "no device".
const credentialsSchema = z.object({
  email: signInSchema.shape.email,
  password: signInSchema.shape.password,
  deviceId: z.uuid().optional().catch(undefined),
});

export interface AuthenticatedUser {
  userId: string;
  role: "customer" | "admin" | "support" | "auditor";
  /** The account was locked since the previous successful sign-in: the first page says so once. */
  showLockNotice: boolean;
}

/**
 * Checks an email and password. Answers only "who" or "nobody", never why: an unknown email, a wrong
 * password, an unverified account and a locked account look identical to the caller, and each costs one
 * argon2 verification (an unknown email and a locked account are verified against a decoy hash), so timing
 * does not tell them apart either. Every outcome is audited without the email or password, and attempts on a
 * known account are written to its login history.
 *
 * Lockout counts consecutive failures per account, whatever the client's address: the
 * `SIGN_IN_FAILURES_BEFORE_LOCK`-th (5) failure locks the account for `LOCKOUT_DURATION_SECONDS` (15 minutes).
 * The count and the lock are changed by one UPDATE that reads and writes the row atomically, so parallel
 * guesses cannot slip past the limit. During a lock even the right password fails; attempts during a lock
 * are recorded but neither counted nor allowed to extend it, so at most five guesses get through per lock
 * period. The count restarts from zero when a lock begins and after every success. The counting itself lives
 * in lib/auth/lockout.ts, because wrong second-factor codes count towards the same lock.
 */
export async function authenticateWithPassword(
  credentials: Partial<Record<string, unknown>>,
  context: RequestContext,
): Promise<AuthenticatedUser | null> {
  const parsed = credentialsSchema.safeParse(credentials);
  const db = database();
  if (!parsed.success) {
    await recordMalformedAttempt(context);
    return null;
  }
  const emailIndex = await blindIndex("email", normaliseEmail(parsed.data.email));
  const [user] = await db
    .select({
      id: users.id,
      role: users.role,
      passwordHash: users.passwordHash,
      emailVerifiedAt: users.emailVerifiedAt,
      lockedUntil: users.lockedUntil,
      lastLockedAt: users.lastLockedAt,
    })
    .from(users)
    .where(eq(users.emailBlindIndex, emailIndex))
    .limit(1);
  if (!user) {
    await verifyPassword(null, parsed.data.password);
    await recordFailedAttempt(null, "unknown_account", context);
    return null;
  }
  if (user.lockedUntil && user.lockedUntil > new Date()) {
    await verifyPassword(null, parsed.data.password);
    await recordFailedAttempt(user.id, "locked", context);
    return null;
  }
  const passwordMatches = await verifyPassword(user.passwordHash, parsed.data.password);
  if (!passwordMatches) {
    await recordFailedAttempt(user.id, "wrong_password", context);
    return null;
  }
  if (!user.emailVerifiedAt) {
    // The right password on an unverified registration: not a guess, so it does not count towards a lock.
    await recordFailedAttempt(user.id, "unverified", context);
    return null;
  }
  return recordSuccess(user, parsed.data.password, parsed.data.deviceId, context);
}

async function recordMalformedAttempt(context: RequestContext): Promise<void> {
  await recordAuditEvent(database(), {
    actorId: null,
    actorRole: null,
    action: "auth.sign_in.failed",
    ...context,
    details: { reason: "malformed_input" },
  });
}

function deviceHashOf(userId: string, deviceId: string): string {
  return crypto.createHash("sha256").update(`${userId}:${deviceId}`).digest("hex");
}

async function recordSuccess(
  user: { id: string; role: AuthenticatedUser["role"]; passwordHash: string; lastLockedAt: Date | null },
  password: string,
  deviceId: string | undefined,
  context: RequestContext,
): Promise<AuthenticatedUser> {
  // A hash made with weaker parameters than today's is replaced now, while the password is at hand.
  const upgradedHash = passwordHashNeedsRehash(user.passwordHash) ? await hashPassword(password) : null;
  const { showLockNotice, newDevice } = await database().transaction(async (tx) => {
    const [previousSuccess] = await tx
      .select({ occurredAt: signInEvents.occurredAt })
      .from(signInEvents)
      .where(and(eq(signInEvents.userId, user.id), eq(signInEvents.outcome, "succeeded")))
      .orderBy(desc(signInEvents.occurredAt))
      .limit(1);
    await tx
      .update(users)
      .set({ failedSignInCount: 0, ...(upgradedHash ? { passwordHash: upgradedHash } : {}) })
      .where(eq(users.id, user.id));
    await tx.insert(signInEvents).values({ userId: user.id, outcome: "succeeded", ...context });
    const lockNotice = Boolean(
      user.lastLockedAt && (!previousSuccess || user.lastLockedAt > previousSuccess.occurredAt),
    );
    const deviceIsNew = await rememberDevice(tx, user.id, deviceId, Boolean(previousSuccess), context);
    await recordAuditEvent(tx, {
      actorId: user.id,
      actorRole: user.role,
      action: "auth.sign_in.succeeded",
      targetType: "user",
      targetId: user.id,
      ...context,
      details: { newDevice: deviceIsNew, passwordRehashed: upgradedHash !== null },
    });
    return { showLockNotice: lockNotice, newDevice: deviceIsNew };
  });
  if (newDevice) scheduleEmailDelivery();
  return { userId: user.id, role: user.role, showLockNotice };
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
