import { z } from "zod";

// Zod 4 compiles object parsers with `new Function` unless told not to, and probes for that ability with
// `Function("")` on the first parse. In the browser the strict CSP forbids eval, so the probe is refused and
// reported as a violation each time a form is checked. Every schema is built on this module, so switching
// the compiler off here covers the forms; the interpreted parser gives the same results.
z.config({ jitless: true });

/**
 * The one shared place for zod field primitives. Every schema that accepts text from a person builds on these,
 * so that normalisation and bounds are decided once instead of drifting between forms and route handlers.
 * No `server-only`: client components may use the same schemas to check a form before it is sent.
 */

/**
 * C0 controls (U+0000–U+001F), DEL (U+007F), C1 controls (U+0080–U+009F) and the bidirectional embedding,
 * override and isolate characters (U+202A–U+202E, U+2066–U+2069). None of them belongs in a name, an email
 * address or a reference: controls break logs and exports, and bidi overrides make text display differently
 * from what it is (a payee "evil\u202Egnp.exe" reads as "evilexe.png").
 */
// eslint-disable-next-line no-control-regex -- matching control characters is the point of this pattern.
const unwantedCharacters = /[\u0000-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069]/g;

/**
 * Removes the unwanted characters, then applies NFC, then trims. Stripping comes before NFC because a control
 * character between a letter and its combining mark would otherwise keep the pair from composing, and the
 * result must be NFC whatever the input was ("e\u0000\u0301" becomes "é", not "e\u0301").
 */
export function cleanText(value: string): string {
  return value.replace(unwantedCharacters, "").normalize("NFC").trim();
}

/**
 * Raw input longer than this is refused before it is normalised, so that a megabyte string is never run
 * through NFC. Generous on purpose: stripping and composing can shorten text, and the real bound is checked
 * on the cleaned value.
 */
function rawLengthCap(max: number): number {
  return Math.max(max * 4, 64);
}

export interface TextOptions {
  /** Minimum length of the cleaned text, in UTF-16 code units. Defaults to 0. */
  min?: number;
  /** Maximum length of the cleaned text, in UTF-16 code units. */
  max: number;
  /** Shown when the value is missing, not text, or shorter than `min` once cleaned. */
  tooShort?: string;
  /** Shown when the value is longer than `max`. */
  tooLong?: string;
}

function tooShortMessage(min: number): string {
  return min <= 1 ? "Enter a value." : `Enter at least ${min} characters.`;
}

function tooLongMessage(max: number): string {
  return `Use at most ${max} characters.`;
}

/**
 * Single-line text: control and bidi-override characters removed, NFC, trimmed, then bounded. The bounds apply
 * to what is stored, not to what was typed, so " a " passes `min: 1` as "a" and "   " fails it.
 */
export function text(options: TextOptions) {
  const min = options.min ?? 0;
  const { max } = options;
  const tooShort = options.tooShort ?? tooShortMessage(Math.max(min, 1));
  const tooLong = options.tooLong ?? tooLongMessage(max);
  return z
    .string({ error: tooShort })
    .max(rawLengthCap(max), { error: tooLong })
    .transform(cleanText)
    .pipe(z.string().min(min, { error: tooShort }).max(max, { error: tooLong }));
}

export interface EmailAddressOptions {
  /** Shown when the value is missing or empty once cleaned. */
  required?: string;
  /** Shown when the value is longer than 254 characters. */
  tooLong?: string;
  /** Shown when the value is not shaped like an email address. */
  invalid?: string;
}

/** RFC 5321's limit on a forward path, and therefore the longest address that can receive mail. */
export const maximumEmailLength = 254;

/**
 * An email address: cleaned like `text`, bounded to 254 characters, then checked by zod's email format on the
 * cleaned value (so " alice@example.com " is accepted as "alice@example.com"). Case is kept as typed; the
 * canonical form used for look-ups is `normaliseEmail` in lib/crypto/normalise.ts.
 */
export function emailAddress(options: EmailAddressOptions = {}) {
  return text({
    min: 1,
    max: maximumEmailLength,
    tooShort: options.required ?? "Enter your email address.",
    tooLong: options.tooLong ?? "That email address is too long.",
  }).pipe(z.email({ error: options.invalid ?? "Enter a valid email address." }));
}

export interface PasswordOptions {
  /** Minimum length after NFC. Defaults to 1; a registration policy sets its own. */
  min?: number;
  /** Shown when the value is missing, not text, or shorter than `min`. */
  tooShort?: string;
  /** Shown when the value is longer than 1024 characters. */
  tooLong?: string;
}

/**
 * Far above any real password, and low enough that an attacker cannot make argon2 hash megabytes.
 */
export const maximumPasswordLength = 1024;

/**
 * The only change ever made to a password: NFC, so that "é" typed as one code point or as "e" and a combining
 * accent is the same password on every keyboard. Nothing is trimmed or removed: spaces and any other character
 * are part of the secret, and silently changing it would lock people out or weaken it. Setting a password
 * (password-policy.ts) and signing in (`password()` below) both use this one function, so they cannot drift.
 */
export function normalisePassword(value: string): string {
  return value.normalize("NFC");
}

/** A password as typed at sign-in or as a current password: NFC-normalised, otherwise untouched, bounded. */
export function password(options: PasswordOptions = {}) {
  const min = options.min ?? 1;
  const tooShort = options.tooShort ?? (min <= 1 ? "Enter your password." : `Use at least ${min} characters.`);
  const tooLong = options.tooLong ?? "That password is too long.";
  return z
    .string({ error: tooShort })
    .max(maximumPasswordLength, { error: tooLong })
    .transform(normalisePassword)
    .pipe(z.string().min(min, { error: tooShort }).max(maximumPasswordLength, { error: tooLong }));
}

/**
 * An object that refuses fields it does not declare. Unknown fields are how mass-assignment bugs start (a
 * posted `role` or `balance` that a later refactor spreads into a query), so they are an error, not ignored.
 * lib/action.ts removes Next's own `$ACTION_…` form fields before parsing, so forms work with strict objects.
 */
export function strictObject<Shape extends z.core.$ZodLooseShape>(shape: Shape) {
  return z.strictObject(shape, {
    error: (issue) => (issue.code === "unrecognized_keys" ? "The form contains fields we do not accept." : undefined),
  });
}
