import "server-only";
import crypto from "node:crypto";
import { and, eq, gt, isNotNull, isNull, sql } from "drizzle-orm";
import { database, type Queryable, type Transaction } from "@/db/client";
import { signInTickets, users } from "@/db/schema";
import type { RequestContext } from "@/lib/auth/actor";
import { recordAuditEvent } from "@/lib/audit/record-audit-event";
import { isLockedAt, recordFailedAttempt } from "@/lib/auth/lockout";
import { regenerateRecoveryCodes, useRecoveryCode } from "@/lib/auth/recovery-codes";
import {
  generateTotpSecret,
  matchTotpCode,
  saveTotpEnrolment,
  totpProvisioning,
  verifyTotpForUser,
  type TotpProvisioning,
} from "@/lib/auth/totp";
import { decryptField, encryptField, type FieldContext } from "@/lib/crypto";
import { BankError } from "@/lib/errors";
import { hashToken, issueToken, tokenPattern } from "@/lib/identity/tokens";
import { scheduleEmailDelivery } from "@/lib/mail/schedule-delivery";

/**
 * Sign-in tickets: what a browser holds between the right password and the right second factor.
 *
 * The password step issues a ticket (a random 256-bit token, stored only as SHA-256 like every emailed token)
 * and ties it to a browser binding, a separate random value the browser keeps in its own cookie (also stored
 * only as a hash). Every later step needs both, so a ticket that leaks (a log, a shoulder) is useless in another
 * browser. A ticket lives five minutes, long enough to open an authenticator app or to scan a QR code once.
 *
 * The second step either verifies a code (TOTP or a recovery code) or, for a customer without an authenticator,
 * enrols one: the new secret waits on the ticket (encrypted) until a first code confirms it. Only a ticket whose
 * second factor was verified can be claimed, once, to create the session. Every query carries the full "live"
 * condition (token, binding, unused, unexpired), so no step can act on a ticket that another step finished.
 *
 * Times on tickets come from the database's clock (`now()`), in the statements that check them: one clock for
 * writing and checking, and no window between reading a ticket and acting on it.
 */

export const signInTicketLifetimeSeconds = 300;

// The browser binding is our own cookie's random value (for example 32 random bytes in base64url). Anything
// shorter or of another alphabet is not something we issued.
const browserBindingPattern = /^[A-Za-z0-9_-]{22,128}$/;

function hashBrowserBinding(browserBinding: string): string {
  return crypto.createHash("sha256").update(`harbour-bank:browser-binding:v1:${browserBinding}`, "utf8").digest("hex");
}

function pendingSecretField(ticketId: string): FieldContext {
  return { table: "sign_in_tickets", column: "pending_totp_secret", rowId: ticketId };
}

function isWellFormed(token: string, browserBinding: string): boolean {
  return tokenPattern.test(token) && browserBindingPattern.test(browserBinding);
}

/** The condition every step puts on a ticket: this token, this browser, not used, not expired. */
function liveTicket(token: string, browserBinding: string) {
  return and(
    eq(signInTickets.tokenHash, hashToken(token)),
    eq(signInTickets.browserBindingHash, hashBrowserBinding(browserBinding)),
    isNull(signInTickets.usedAt),
    gt(signInTickets.expiresAt, sql`now()`),
  );
}

export interface IssuedSignInTicket {
  /** For the browser only (an HttpOnly cookie); never stored. */
  token: string;
  expiresAt: Date;
}

/**
 * Issues a ticket for a user whose password was just verified, in the caller's transaction. Earlier unfinished
 * tickets of the user are left to expire: a second tab signing in must not cancel the first.
 */
export async function issueSignInTicket(
  queryable: Queryable,
  userId: string,
  browserBinding: string,
): Promise<IssuedSignInTicket> {
  // The binding comes from our own cookie; a missing or foreign one is the caller's bug, not user input.
  if (!browserBindingPattern.test(browserBinding)) {
    throw new BankError("internal", { internalMessage: "sign-in ticket issued without a well-formed browser binding" });
  }
  const { token, tokenHash } = issueToken();
  const [issued] = await queryable
    .insert(signInTickets)
    .values({
      id: crypto.randomUUID(),
      userId,
      tokenHash,
      browserBindingHash: hashBrowserBinding(browserBinding),
      expiresAt: sql`now() + make_interval(secs => ${signInTicketLifetimeSeconds})`,
    })
    .returning({ expiresAt: signInTickets.expiresAt });
  if (!issued) throw new BankError("internal", { internalMessage: "sign-in ticket insert returned no row" });
  return { token, expiresAt: issued.expiresAt };
}

/** What the second-step page needs to know about a live ticket. */
export interface SignInTicketState {
  userId: string;
  expiresAt: Date;
  /** The user has an authenticator: ask for a code. Otherwise, enrol one. */
  totpEnrolled: boolean;
  /**
   * Staff reset the user's second factor: no enrolment here. The customer enrols again only through the
   * single-use link emailed to them (lib/auth/mfa-reenrolment.ts), so the page says so instead.
   */
  mfaReenrolmentRequired: boolean;
  /** An enrolment was started on this ticket and waits for its first code. */
  enrolmentInProgress: boolean;
  secondFactorVerified: boolean;
  /** The user is staff: their sign-in lands in the back office rather than on the customer dashboard. */
  staff: boolean;
}

/** The live ticket for this token and browser, or null (unknown, used, expired, or another browser's). */
export async function readSignInTicket(token: string, browserBinding: string): Promise<SignInTicketState | null> {
  if (!isWellFormed(token, browserBinding)) return null;
  const [ticket] = await database()
    .select({
      userId: signInTickets.userId,
      expiresAt: signInTickets.expiresAt,
      pendingSecretCiphertext: signInTickets.pendingTotpSecretCiphertext,
      secondFactorVerifiedAt: signInTickets.secondFactorVerifiedAt,
      totpEnrolledAt: users.totpEnrolledAt,
      role: users.role,
      mfaReenrolmentRequiredAt: users.mfaReenrolmentRequiredAt,
    })
    .from(signInTickets)
    .innerJoin(users, eq(users.id, signInTickets.userId))
    .where(liveTicket(token, browserBinding))
    .limit(1);
  if (!ticket) return null;
  return {
    staff: ticket.role !== "customer",
    userId: ticket.userId,
    expiresAt: ticket.expiresAt,
    totpEnrolled: ticket.totpEnrolledAt !== null,
    mfaReenrolmentRequired: ticket.mfaReenrolmentRequiredAt !== null,
    enrolmentInProgress: ticket.pendingSecretCiphertext !== null,
    secondFactorVerified: ticket.secondFactorVerifiedAt !== null,
  };
}

/**
 * Starts (or restarts) enrolling an authenticator on a live ticket whose user has none: a new secret is kept on
 * the ticket, encrypted, and returned as the QR code and text to show. Null when the ticket is not live, its
 * second factor is already done, or the user already has an authenticator: a password alone must never be
 * enough to put a new authenticator on an account (replacing one needs a step-up inside a session). Null too
 * when staff reset the user's second factor: then only the emailed single-use link may enrol one.
 */
export async function startTicketEnrolment(token: string, browserBinding: string): Promise<TotpProvisioning | null> {
  if (!isWellFormed(token, browserBinding)) return null;
  return database().transaction(async (tx) => {
    const [ticket] = await tx
      .select({ id: signInTickets.id, userId: signInTickets.userId, emailCiphertext: users.emailCiphertext })
      .from(signInTickets)
      .innerJoin(users, eq(users.id, signInTickets.userId))
      .where(
        and(
          liveTicket(token, browserBinding),
          isNull(signInTickets.secondFactorVerifiedAt),
          isNull(users.totpSecretCiphertext),
          isNull(users.mfaReenrolmentRequiredAt),
        ),
      )
      .for("update", { of: signInTickets })
      .limit(1);
    if (!ticket) return null;
    const secret = generateTotpSecret();
    await tx
      .update(signInTickets)
      .set({ pendingTotpSecretCiphertext: await encryptField(secret, pendingSecretField(ticket.id), "mfa") })
      .where(eq(signInTickets.id, ticket.id));
    const email = await decryptField(ticket.emailCiphertext, { table: "users", column: "email", rowId: ticket.userId });
    return totpProvisioning(secret, email);
  });
}

export type TicketEnrolmentResult =
  | { enrolled: true; recoveryCodes: string[] }
  | { enrolled: false; reason: "ticket_invalid" | "wrong_code" };

/**
 * Finishes an enrolment with the first code from the new authenticator. In one transaction: the secret moves
 * from the ticket to the user (with the code's time step, so the same code cannot then sign in again), a first
 * set of recovery codes is made (returned here, to be shown once), and the ticket's second factor counts as
 * verified. A wrong code changes nothing and is not counted towards a lock: whoever holds the ticket can see the
 * QR code, so a wrong code here is a typing or scanning mistake, never a guess at a secret.
 */
export async function completeTicketEnrolment(
  token: string,
  browserBinding: string,
  code: string,
  context: RequestContext,
  now: Date = new Date(),
): Promise<TicketEnrolmentResult> {
  if (!isWellFormed(token, browserBinding)) return { enrolled: false, reason: "ticket_invalid" };
  return database().transaction(async (tx): Promise<TicketEnrolmentResult> => {
    const [ticket] = await tx
      .select({ id: signInTickets.id, userId: signInTickets.userId, pending: signInTickets.pendingTotpSecretCiphertext })
      .from(signInTickets)
      .where(and(liveTicket(token, browserBinding), isNotNull(signInTickets.pendingTotpSecretCiphertext)))
      .for("update")
      .limit(1);
    if (!ticket?.pending) return { enrolled: false, reason: "ticket_invalid" };
    const secret = await decryptField(ticket.pending, pendingSecretField(ticket.id), "mfa");
    const timeStep = await matchTotpCode(secret, code, { now });
    if (timeStep === null) return { enrolled: false, reason: "wrong_code" };
    const saved = await saveTotpEnrolment(tx, {
      userId: ticket.userId,
      secret,
      confirmedTimeStep: timeStep,
      mode: "first",
    });
    if (!saved) return { enrolled: false, reason: "ticket_invalid" };
    const recoveryCodes = await regenerateRecoveryCodes(tx, ticket.userId);
    await markSecondFactorVerified(tx, ticket.id);
    await recordAuditEvent(tx, {
      actorId: ticket.userId,
      actorRole: null,
      action: "auth.second_factor.enrolled",
      targetType: "user",
      targetId: ticket.userId,
      ...context,
    });
    return { enrolled: true, recoveryCodes };
  });
}

// The second factor is done: the pending secret (if any) is no longer needed, and a later success of the
// password-only part cannot undo this.
async function markSecondFactorVerified(tx: Transaction, ticketId: string): Promise<void> {
  await tx
    .update(signInTickets)
    .set({ secondFactorVerifiedAt: sql`now()`, pendingTotpSecretCiphertext: null })
    .where(eq(signInTickets.id, ticketId));
}

export type SecondFactorProof = { method: "totp"; code: string } | { method: "recovery_code"; code: string };

export type TicketSecondFactorResult =
  | { verified: true; recoveryCodesRemaining: number | null }
  | { verified: false; reason: "ticket_invalid" | "not_enrolled" | "malformed" | "wrong_code" | "locked" };

/**
 * Checks the second factor of a live ticket with a code from the authenticator or a recovery code.
 *
 * A wrong code counts towards the same lock as a wrong password (lib/auth/lockout.ts, login outcome
 * `second_factor_failed`): with the password known, five guesses at a six-digit code in a lock period is what an
 * attacker gets, never more. While the account is locked no code is checked at all (the attempt is recorded, not
 * counted), and the attempt that begins a lock also ends the ticket. Malformed input is refused without
 * counting, like a malformed sign-in form. The ticket is marked verified only if it is still live at that moment.
 */
export async function verifyTicketSecondFactor(
  token: string,
  browserBinding: string,
  proof: SecondFactorProof,
  context: RequestContext,
  now: Date = new Date(),
): Promise<TicketSecondFactorResult> {
  if (!isWellFormed(token, browserBinding)) return { verified: false, reason: "ticket_invalid" };
  const [ticket] = await database()
    .select({
      id: signInTickets.id,
      userId: signInTickets.userId,
      lockedUntil: users.lockedUntil,
      totpEnrolledAt: users.totpEnrolledAt,
    })
    .from(signInTickets)
    .innerJoin(users, eq(users.id, signInTickets.userId))
    .where(liveTicket(token, browserBinding))
    .limit(1);
  if (!ticket) return { verified: false, reason: "ticket_invalid" };
  if (!ticket.totpEnrolledAt) return { verified: false, reason: "not_enrolled" };
  if (isLockedAt(ticket.lockedUntil)) {
    await recordFailedAttempt(ticket.userId, "locked", context);
    return { verified: false, reason: "locked" };
  }

  const outcome = await database().transaction(
    async (tx): Promise<{ verified: true; recoveryCodesRemaining: number | null } | { verified: false; reason: "malformed" | "wrong_code" | "ticket_invalid" }> => {
      let recoveryCodesRemaining: number | null = null;
      if (proof.method === "totp") {
        const verification = await verifyTotpForUser(tx, ticket.userId, proof.code, now);
        if (!verification.valid) {
          return { verified: false, reason: verification.reason === "malformed" ? "malformed" : "wrong_code" };
        }
      } else {
        const use = await useRecoveryCode(tx, ticket.userId, proof.code, context);
        if (!use.used) return { verified: false, reason: use.reason };
        recoveryCodesRemaining = use.remaining;
      }
      const marked = await tx
        .update(signInTickets)
        .set({ secondFactorVerifiedAt: sql`now()`, pendingTotpSecretCiphertext: null })
        .where(and(eq(signInTickets.id, ticket.id), liveTicket(token, browserBinding)))
        .returning({ id: signInTickets.id });
      // The ticket expired or was used while the code was checked: undo the code's use with everything else.
      if (marked.length !== 1) {
        throw new TicketNoLongerLive();
      }
      // A proven second factor ends a run of failures, as a successful sign-in always has.
      await tx.update(users).set({ failedSignInCount: 0 }).where(eq(users.id, ticket.userId));
      await recordAuditEvent(tx, {
        actorId: ticket.userId,
        actorRole: null,
        action: "auth.second_factor.verified",
        targetType: "user",
        targetId: ticket.userId,
        ...context,
        details: { method: proof.method, recoveryCodesRemaining },
      });
      return { verified: true, recoveryCodesRemaining };
    },
  ).catch((error: unknown) => {
    if (error instanceof TicketNoLongerLive) return { verified: false, reason: "ticket_invalid" } as const;
    throw error;
  });

  if (outcome.verified) {
    if (proof.method === "recovery_code") scheduleEmailDelivery();
    return outcome;
  }
  if (outcome.reason !== "wrong_code") return outcome;
  const lockedNow = await recordFailedAttempt(ticket.userId, "second_factor_failed", context);
  if (!lockedNow) return outcome;
  await database()
    .update(signInTickets)
    .set({ usedAt: sql`now()` })
    .where(and(eq(signInTickets.id, ticket.id), isNull(signInTickets.usedAt)));
  return { verified: false, reason: "locked" };
}

// Thrown inside the verification transaction to roll it back (the code's use included) when the ticket stopped
// being live; caught right outside it. Never leaves this module.
class TicketNoLongerLive extends Error {}

/**
 * Uses a ticket up, once, to create the session: only a live ticket of this browser whose second factor was
 * verified. The single conditional UPDATE is the claim, so two requests presenting the same ticket at the same
 * moment get one session between them. Returns the user, or null for anything else (unknown, used, expired,
 * another browser's, second factor not done).
 */
export async function claimSignInTicket(token: string, browserBinding: string): Promise<{ userId: string } | null> {
  if (!isWellFormed(token, browserBinding)) return null;
  const [claimed] = await database()
    .update(signInTickets)
    .set({ usedAt: sql`now()` })
    .where(and(liveTicket(token, browserBinding), isNotNull(signInTickets.secondFactorVerifiedAt)))
    .returning({ userId: signInTickets.userId });
  return claimed ? { userId: claimed.userId } : null;
}
