import "server-only";
import { eq, inArray } from "drizzle-orm";
import { z } from "zod";
import { database } from "@/db/client";
import { users } from "@/db/schema";
import type { RequestContext } from "@/lib/auth/actor";
import { recordAuditEvent } from "@/lib/audit/record-audit-event";
import { recordFailedAttempt } from "@/lib/auth/lockout";
import { hashPassword, passwordHashNeedsRehash, verifyPassword } from "@/lib/auth/password";
import { blindIndexLookup, normaliseEmail } from "@/lib/crypto";
import { countSignInOutcome } from "@/lib/metrics/registry";
import { signInSchema } from "@/lib/validation/sign-in";

// The same field rules as the sign-in form (lib/validation), so that any caller's input is cleaned exactly
// like the form's. Not strict: callers may pass more fields (the form's redirectTo). The password's upper bound
// keeps an attacker from making argon2 hash megabytes.
const credentialsSchema = z.object({
  email: signInSchema.shape.email,
  password: signInSchema.shape.password,
});

/** Whose password this was. It is not a sign-in yet: the second factor (lib/auth/sign-in-tickets.ts) follows. */
export interface AuthenticatedUser {
  userId: string;
  role: "customer" | "admin" | "support" | "auditor";
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
 * period. The count restarts from zero when a lock begins and when a second factor is proven, never on a right
 * password alone (see recordPasswordVerified). The counting itself lives in lib/auth/lockout.ts, because wrong
 * second-factor codes count towards the same lock.
 *
 * Every path verifies through the password pepper (lib/auth/password.ts), the decoy paths included. When the
 * pepper is unavailable, `verifyPassword` throws `BankError("unavailable")` and this function throws it on
 * before any outcome is recorded: an outage is not a guess, so it neither counts towards a lock nor lands in
 * the login history as a wrong password, and the caller answers 503.
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
  // Every live blind-index version: after a rotation, accounts not yet reindexed still sign in.
  const emailIndexes = await blindIndexLookup("email", normaliseEmail(parsed.data.email));
  const [user] = await db
    .select({
      id: users.id,
      role: users.role,
      passwordHash: users.passwordHash,
      emailVerifiedAt: users.emailVerifiedAt,
      lockedUntil: users.lockedUntil,
    })
    .from(users)
    .where(inArray(users.emailBlindIndex, emailIndexes))
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
  return recordPasswordVerified(user, parsed.data.password, context);
}

async function recordMalformedAttempt(context: RequestContext): Promise<void> {
  await recordAuditEvent(database(), {
    actorId: null,
    actorRole: null,
    action: "auth.sign_in.failed",
    ...context,
    details: { reason: "malformed_input" },
  });
  countSignInOutcome("malformed");
}

async function recordPasswordVerified(
  user: { id: string; role: AuthenticatedUser["role"]; passwordHash: string },
  password: string,
  context: RequestContext,
): Promise<AuthenticatedUser> {
  // A hash made without the pepper (stored before passwords were peppered) or with weaker parameters than
  // today's is replaced now, while the password is at hand: this is how old hashes migrate to peppered ones.
  const upgradedHash = passwordHashNeedsRehash(user.passwordHash) ? await hashPassword(password) : null;
  await database().transaction(async (tx) => {
    if (upgradedHash) await tx.update(users).set({ passwordHash: upgradedHash }).where(eq(users.id, user.id));
    // Deliberately no reset of the failure count and no "succeeded" login-history row: the password is only
    // the first half of a sign-in. If a right password reset the count, someone who has the password could
    // guess four codes, type the password again, guess four more, and so on for ever. Only a proven second
    // factor resets the count (lib/auth/sign-in-tickets.ts), and only a completed sign-in is a success
    // (lib/auth/complete-sign-in.ts).
    await recordAuditEvent(tx, {
      actorId: user.id,
      actorRole: user.role,
      action: "auth.sign_in.password_verified",
      targetType: "user",
      targetId: user.id,
      ...context,
      details: { passwordRehashed: upgradedHash !== null },
    });
  });
  countSignInOutcome("password_verified");
  return { userId: user.id, role: user.role };
}
