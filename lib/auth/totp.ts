import "server-only";
import crypto from "node:crypto";
import { and, eq, isNull, lt, or } from "drizzle-orm";
import { generateURI, ScureBase32Plugin, verify } from "otplib";
import QRCode from "qrcode";
import type { Queryable, Transaction } from "@/db/client";
import { users } from "@/db/schema";
import { decryptField, encryptField, type FieldContext } from "@/lib/crypto";
import { BankError } from "@/lib/errors";
import { enqueueEmail } from "@/lib/mail/outbox";

/**
 * Time-based one-time passwords (RFC 6238) from an authenticator app: the second factor.
 *
 * The parameters are the ones every authenticator app understands without asking: SHA-1, 6 digits, 30-second
 * steps. SHA-1 is not a weakness here: TOTP uses it as an HMAC, where collisions do not matter.
 *
 * A code is accepted for the current step and one step either side (±30 s), which absorbs a phone clock that
 * is a little off and the time it takes to type; two steps away is refused. Each accepted step is written to
 * `users.totp_last_used_step` by a conditional UPDATE that only moves it forward, so a code (and any code of an
 * earlier step) is accepted at most once, even when two requests present it at the same moment: PostgreSQL's
 * row lock makes the second UPDATE wait for the first and then find its condition false.
 */

export const totpIssuer = "Harbour Bank";
export const totpPeriodSeconds = 30;
export const totpDigits = 6;
// RFC 4226 asks for at least 128 bits and recommends 160: 20 bytes are 160 bits, exactly 32 base32 characters.
const secretBytes = 20;
const codePattern = /^[0-9]{6}$/;
const base32 = new ScureBase32Plugin();

/** Where a user's secret is stored: bound to the row, under the "mfa" data key (not the PII key). */
export function totpSecretField(userId: string): FieldContext {
  return { table: "users", column: "totp_secret", rowId: userId };
}

/** A fresh shared secret: 160 random bits in base32 (A–Z, 2–7), as authenticator apps expect it. */
export function generateTotpSecret(): string {
  return base32.encode(crypto.randomBytes(secretBytes));
}

/** Whether `code` has the shape of a code at all; anything else is refused before any cryptography runs. */
export function isTotpCodeShaped(code: unknown): code is string {
  return typeof code === "string" && codePattern.test(code);
}

/** The RFC 6238 time step that `now` falls in. */
export function totpTimeStepAt(now: Date): number {
  return Math.floor(now.getTime() / 1000 / totpPeriodSeconds);
}

/** The `otpauth://` URI that an authenticator app reads from the QR code. */
export function totpUri(secret: string, email: string): string {
  return generateURI({
    issuer: totpIssuer,
    label: email,
    secret,
    algorithm: "sha1",
    digits: totpDigits,
    period: totpPeriodSeconds,
  });
}

/**
 * The QR code of a URI as an SVG `data:` URL, rendered on the server: the secret never goes to a third-party
 * QR service and no QR library is sent to the browser. The Content Security Policy's `img-src` allows `data:`
 * (lib/security/content-security-policy.ts), and an SVG shown through `<img>` cannot run scripts.
 */
export async function qrCodeDataUrl(uri: string): Promise<string> {
  const svg = await QRCode.toString(uri, { type: "svg", errorCorrectionLevel: "M", margin: 2 });
  return `data:image/svg+xml;base64,${Buffer.from(svg, "utf8").toString("base64")}`;
}

/** What an enrolment screen shows: the QR code, and the secret in groups of four for typing it in by hand. */
export interface TotpProvisioning {
  secretForManualEntry: string;
  uri: string;
  qrCodeDataUrl: string;
}

export async function totpProvisioning(secret: string, email: string): Promise<TotpProvisioning> {
  const uri = totpUri(secret, email);
  return {
    secretForManualEntry: secret.match(/.{1,4}/g)?.join(" ") ?? secret,
    uri,
    qrCodeDataUrl: await qrCodeDataUrl(uri),
  };
}

/**
 * The time step whose code `code` is, within one step of `now`, and later than `afterTimeStep` when given;
 * null when there is none. Pure apart from the HMACs: the replay guard that makes a step single-use is the
 * conditional UPDATE in verifyTotpForUser, which this only narrows down first.
 */
export async function matchTotpCode(
  secret: string,
  code: string,
  options: { now: Date; afterTimeStep?: number | null },
): Promise<number | null> {
  if (!isTotpCodeShaped(code)) return null;
  const currentStep = totpTimeStepAt(options.now);
  const afterTimeStep = options.afterTimeStep ?? undefined;
  // Every step of the window is at or before the last one used (a clock that went backwards): nothing can match.
  // otplib would throw for such a bound, so it is answered here.
  if (afterTimeStep !== undefined && afterTimeStep >= currentStep + 1) return null;
  const result = await verify({
    secret,
    token: code,
    algorithm: "sha1",
    digits: totpDigits,
    period: totpPeriodSeconds,
    epoch: Math.floor(options.now.getTime() / 1000),
    // In seconds: 30 either side of `now` covers exactly the previous, current and next step.
    epochTolerance: totpPeriodSeconds,
    ...(afterTimeStep === undefined ? {} : { afterTimeStep }),
  });
  // otplib's functional `verify` is typed for TOTP and HOTP at once; only the TOTP result carries `timeStep`.
  return result.valid && "timeStep" in result ? result.timeStep : null;
}

export type TotpVerification =
  | { valid: true; timeStep: number }
  /**
   * `malformed`: not six digits (never a guess worth counting). `not_enrolled`: the user has no authenticator.
   * `wrong_code`: a wrong code, a code more than one step away, or a code whose step was already used; the
   * three are deliberately one answer.
   */
  | { valid: false; reason: "malformed" | "not_enrolled" | "wrong_code" };

/**
 * Checks a code against the user's enrolled authenticator and, when it is right, records its time step so
 * that it is never accepted again. Exactly one of any number of parallel requests presenting the same code
 * succeeds. The UPDATE also requires the secret to be the one that was read, so a code checked against an
 * authenticator that was replaced a moment ago is not accepted.
 *
 * Inside a transaction the accepted step is committed with the caller's other writes; on its own it commits
 * immediately. Failures are not counted here: the caller decides whether a failure counts towards the lockout
 * (lib/auth/lockout.ts), because only the caller knows whether it was a sign-in or a step-up.
 */
export async function verifyTotpForUser(
  queryable: Queryable,
  userId: string,
  code: string,
  now: Date = new Date(),
): Promise<TotpVerification> {
  if (!isTotpCodeShaped(code)) return { valid: false, reason: "malformed" };
  // The row is locked until the caller's transaction ends. The update below only records the step if the
  // ciphertext is still the one the code was checked against (so that a code checked against a replaced
  // authenticator is never recorded), and without the lock an online re-encryption (keys:reencrypt) rewriting
  // the same secret under a new key version in between turned a right code into "wrong code".
  const [user] = await queryable
    .select({ secretCiphertext: users.totpSecretCiphertext, lastUsedStep: users.totpLastUsedStep })
    .from(users)
    .where(eq(users.id, userId))
    .limit(1)
    .for("update");
  if (!user?.secretCiphertext) return { valid: false, reason: "not_enrolled" };
  const secret = await decryptField(user.secretCiphertext, totpSecretField(userId), "mfa");
  const timeStep = await matchTotpCode(secret, code, { now, afterTimeStep: user.lastUsedStep });
  if (timeStep === null) return { valid: false, reason: "wrong_code" };
  const recorded = await queryable
    .update(users)
    .set({ totpLastUsedStep: timeStep })
    .where(
      and(
        eq(users.id, userId),
        eq(users.totpSecretCiphertext, user.secretCiphertext),
        or(isNull(users.totpLastUsedStep), lt(users.totpLastUsedStep, timeStep)),
      ),
    )
    .returning({ id: users.id });
  return recorded.length === 1 ? { valid: true, timeStep } : { valid: false, reason: "wrong_code" };
}

/**
 * Stores a confirmed authenticator for a user: the secret (encrypted), when, and the step of the code that
 * confirmed it, so that the confirming code cannot be used again to sign in. `mode` says what the caller
 * expects: a first enrolment refuses to overwrite an existing authenticator (a password alone must never be
 * enough to swap it), a replacement (behind a step-up) requires one and emails the owner. After a staff reset
 * (lib/admin/mfa-reset) the account has no authenticator but is marked as needing re-enrolment: a "first"
 * enrolment (at a password sign-in) is then refused, and only "after_reset" (through the emailed single-use
 * link, lib/auth/mfa-reenrolment.ts) is accepted, which clears the mark and emails the owner. Runs in the
 * caller's transaction; answers false when the expectation did not hold, changing nothing.
 */
export async function saveTotpEnrolment(
  tx: Transaction,
  enrolment: { userId: string; secret: string; confirmedTimeStep: number; mode: "first" | "replacement" | "after_reset" },
): Promise<boolean> {
  const { userId } = enrolment;
  const [user] = await tx
    .select({
      secretCiphertext: users.totpSecretCiphertext,
      emailCiphertext: users.emailCiphertext,
      reenrolmentRequiredAt: users.mfaReenrolmentRequiredAt,
    })
    .from(users)
    .where(eq(users.id, userId))
    .for("update")
    .limit(1);
  if (!user) throw new BankError("not_found");
  const alreadyEnrolled = user.secretCiphertext !== null;
  if (alreadyEnrolled !== (enrolment.mode === "replacement")) return false;
  const reenrolmentRequired = user.reenrolmentRequiredAt !== null;
  if (reenrolmentRequired !== (enrolment.mode === "after_reset")) return false;
  await tx
    .update(users)
    .set({
      totpSecretCiphertext: await encryptField(enrolment.secret, totpSecretField(userId), "mfa"),
      totpEnrolledAt: new Date(),
      totpLastUsedStep: enrolment.confirmedTimeStep,
      mfaReenrolmentRequiredAt: null,
    })
    .where(eq(users.id, userId));
  if (enrolment.mode !== "first") {
    const email = await decryptField(user.emailCiphertext, { table: "users", column: "email", rowId: userId });
    await enqueueEmail(tx, { userId, email }, { template: "authenticator_replaced" });
  }
  return true;
}

/** Whether the user has an authenticator. */
export async function hasTotpEnrolment(queryable: Queryable, userId: string): Promise<boolean> {
  const [user] = await queryable
    .select({ enrolledAt: users.totpEnrolledAt })
    .from(users)
    .where(eq(users.id, userId))
    .limit(1);
  return Boolean(user?.enrolledAt);
}
