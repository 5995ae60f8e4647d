import { z } from "zod";
import { maximumPasswordLength, normalisePassword } from "@/lib/validation/fields";

/**
 * The bank's password policy, shared by the server actions and the forms so that both apply exactly the same
 * rules. No `server-only`: the registration, reset and change forms check a password as it is typed.
 *
 * zxcvbn and the common-password list weigh ~800 kB together, so they are loaded with a dynamic `import()` the
 * first time a password is checked, never as part of a page's first bundle.
 */

export const minimumPasswordCharacters = 12;
export const maximumPasswordCharacters = 128;
/** zxcvbn's score runs 0–4; 3 is "safely unguessable: moderate protection from an offline slow-hash attack". */
export const minimumStrengthScore = 3;

export type PasswordRuleId = "length" | "special" | "common" | "strength";

export interface PasswordRule {
  id: PasswordRuleId;
  /** What the rule asks for, shown in the list of rules beside the password field. */
  requirement: string;
  /** Shown as a field error when the password breaks the rule. */
  failure: string;
}

/** The rules in the order the forms list them. */
export const passwordRules: readonly PasswordRule[] = [
  {
    id: "length",
    requirement: `${minimumPasswordCharacters} to ${maximumPasswordCharacters} characters`,
    failure: `Use between ${minimumPasswordCharacters} and ${maximumPasswordCharacters} characters.`,
  },
  {
    id: "special",
    requirement: "At least one character that is not a letter or a digit, such as a space, ! or #",
    failure: "Add at least one character that is not a letter or a digit, such as a space, ! or #.",
  },
  {
    id: "common",
    requirement: "Not one of the 10,000 most common passwords",
    failure: "This is one of the most common passwords. Choose another one.",
  },
  {
    id: "strength",
    requirement: "Hard to guess: strength Good or Strong",
    failure:
      "This password is too easy to guess. Use more words or characters that do not follow a pattern, and " +
      "avoid your name, email address and date of birth.",
  },
];

export interface PasswordRuleFailure {
  rule: PasswordRuleId;
  message: string;
}

export type StrengthScore = 0 | 1 | 2 | 3 | 4;

/** Words for each zxcvbn score, so the meter never relies on colour alone. */
export const strengthLabels: Readonly<Record<StrengthScore, string>> = {
  0: "Very weak",
  1: "Weak",
  2: "Fair",
  3: "Good",
  4: "Strong",
};

export interface PasswordFeedback {
  /** zxcvbn's warning (for example "This is a top-100 common password"), or an empty string. */
  warning: string;
  suggestions: string[];
}

export interface PasswordCheck {
  /** The rules the password breaks, in the order of `passwordRules`; empty when it is acceptable. */
  failures: PasswordRuleFailure[];
  score: StrengthScore;
  feedback: PasswordFeedback;
}

/** What the customer has told us about themselves: a password built from these is easy to guess for anyone who knows them. */
export interface PasswordUserInputs {
  legalName?: string | undefined;
  email?: string | undefined;
  /** ISO yyyy-mm-dd. */
  dateOfBirth?: string | undefined;
}

// One definition of password normalisation (NFC, nothing else) for setting and for signing in.
export { normalisePassword };

/**
 * Anything that is not a letter, a combining mark or a digit, in any script. Marks count with letters because
 * many scripts write vowels as marks (Hindi "नमस्ते" holds several), and a password of ordinary words in those
 * scripts has no more special characters than "namaste" has.
 */
const specialCharacter = /[^\p{L}\p{M}\p{N}]/u;

/** Words every customer of this bank shares, which a targeted guesser would try first. */
const siteWords = ["harbour", "harbourbank", "harbour bank", "bank"];

/**
 * The strings zxcvbn treats as already known to an attacker: the name and each part of it, the email address,
 * its local part and the pieces of that, and the date of birth in the orders people write it.
 */
export function passwordUserInputList(inputs: PasswordUserInputs): string[] {
  const list = [...siteWords];
  const legalName = inputs.legalName?.normalize("NFC").trim();
  if (legalName) {
    const parts = legalName.split(/[\s'’.-]+/u).filter((part) => part.length >= 2);
    list.push(legalName, parts.join(""), ...parts);
  }
  const email = inputs.email?.normalize("NFC").trim();
  if (email) {
    const localPart = email.split("@")[0] ?? "";
    list.push(email, localPart, ...localPart.split(/[._+-]+/).filter((piece) => piece.length >= 3));
  }
  const dateOfBirth = /^(\d{4})-(\d{2})-(\d{2})$/.exec(inputs.dateOfBirth ?? "");
  if (dateOfBirth) {
    const [whole, year = "", month = "", day = ""] = dateOfBirth;
    const shortYear = year.slice(2);
    list.push(whole, year, `${year}${month}${day}`, `${day}${month}${year}`, `${month}${day}${year}`);
    list.push(`${day}${month}${shortYear}`, `${month}${day}${shortYear}`);
  }
  return [...new Set(list.filter((entry) => entry.length > 0))];
}

interface StrengthEngine {
  estimate: (password: string, userInputs: string[]) => { score: StrengthScore; feedback: PasswordFeedback };
  isCommon: (password: string) => boolean;
}

let strengthEngine: Promise<StrengthEngine> | undefined;

/**
 * Loads zxcvbn and the common-password list once, on first use. Both come from zxcvbn's package (the list
 * module imports zxcvbn's own dictionary file), so the browser fetches one lazy chunk. A failed load (a
 * dropped connection) is forgotten so that the next keystroke tries again.
 */
export function loadPasswordStrengthEngine(): Promise<StrengthEngine> {
  strengthEngine ??= Promise.all([import("zxcvbn"), import("@/lib/validation/common-passwords")])
    .then(([zxcvbn, commonPasswords]) => ({
      estimate: (password: string, userInputs: string[]) => {
        const result = zxcvbn.default(password, userInputs);
        return { score: result.score, feedback: { warning: result.feedback.warning, suggestions: result.feedback.suggestions } };
      },
      isCommon: commonPasswords.isCommonPassword,
    }))
    .catch((error: unknown) => {
      strengthEngine = undefined;
      throw error;
    });
  return strengthEngine;
}

/** The broken rules as failures with their messages, in the order of `passwordRules`. */
function failuresOf(broken: ReadonlySet<PasswordRuleId>): PasswordRuleFailure[] {
  return passwordRules.filter((rule) => broken.has(rule.id)).map((rule) => ({ rule: rule.id, message: rule.failure }));
}

/**
 * Checks a password against every rule. The password is NFC-normalised first and otherwise taken as typed.
 * Resolves with each broken rule, zxcvbn's score and its advice; it never rejects for a bad password (only if
 * zxcvbn itself cannot be loaded).
 */
export async function checkPassword(password: string, userInputs: PasswordUserInputs): Promise<PasswordCheck> {
  const normalised = normalisePassword(password);
  // Code points, not UTF-16 units: an emoji or a rare CJK character counts as one character.
  const characters = Array.from(normalised);
  const broken = new Set<PasswordRuleId>();
  if (characters.length < minimumPasswordCharacters || characters.length > maximumPasswordCharacters) broken.add("length");
  if (!specialCharacter.test(normalised)) broken.add("special");
  // An empty field is plainly too weak; answering without zxcvbn keeps it from loading before anything is typed.
  if (characters.length === 0) {
    broken.add("strength");
    return { failures: failuresOf(broken), score: 0, feedback: { warning: "", suggestions: [] } };
  }
  const engine = await loadPasswordStrengthEngine();
  if (engine.isCommon(normalised)) broken.add("common");
  // zxcvbn's time grows steeply with length; beyond the maximum the length rule has already failed, so the
  // score of the first 128 characters is enough to guide the customer.
  const estimated = characters.length > maximumPasswordCharacters ? characters.slice(0, maximumPasswordCharacters).join("") : normalised;
  const { score, feedback } = engine.estimate(estimated, passwordUserInputList(userInputs));
  if (score < minimumStrengthScore) broken.add("strength");
  return { failures: failuresOf(broken), score, feedback };
}

/** A string value from a form that may not have parsed, or undefined: user inputs are best-effort. */
export function textOrUndefined(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}

/**
 * The new password field: any text up to fields.ts's hard cap (so an attacker cannot make zxcvbn or argon2
 * work on megabytes), NFC-normalised, never trimmed. Its rules are checked by `withNewPasswordRules`, which
 * sees the whole form and so knows the customer's name, email and date of birth.
 */
export function newPasswordField() {
  return z
    .string({ error: "Enter a password." })
    .max(maximumPasswordLength, { error: "That password is too long." })
    .transform(normalisePassword);
}

/** The "type it again" field: normalised the same way, so the comparison is between what will be stored. */
export function passwordConfirmationField() {
  return z
    .string({ error: "Enter the password again." })
    .max(maximumPasswordLength, { error: "That password is too long." })
    .transform(normalisePassword);
}

export const passwordMismatchMessage = "The two passwords do not match.";

export interface NewPasswordValues {
  password: string;
  passwordConfirmation: string;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * The rules run as long as the two password fields themselves parsed, even when another field (the name, say)
 * did not: the form can then show every problem at once. Zod would otherwise skip an object's refinements
 * after any field failed. The other fields are read defensively, because they may hold raw input.
 */
function newPasswordFieldsParsed(payload: z.core.ParsePayload): boolean {
  const value = payload.value;
  if (!isRecord(value) || typeof value.password !== "string" || typeof value.passwordConfirmation !== "string") return false;
  return !payload.issues.some((issue) => {
    const first = issue.path?.[0];
    return first === undefined || first === "password" || first === "passwordConfirmation";
  });
}

/**
 * Adds the password policy to a form schema that has `password` and `passwordConfirmation` fields: one issue
 * on "password" per broken rule (each with the rule's message) and one on "passwordConfirmation" when the two
 * differ. `userInputsOf` picks the customer's own details out of the form (registration) or returns the ones
 * the server knows (password change and reset); its argument may hold unparsed values, so read it with
 * `textOrUndefined`. The refinement is asynchronous: parse with `parseAsync`/`safeParseAsync` (zodResolver
 * does by default).
 */
export function withNewPasswordRules<Schema extends z.ZodType<NewPasswordValues>>(
  schema: Schema,
  userInputsOf: (form: Readonly<Record<string, unknown>>) => PasswordUserInputs,
): Schema {
  return schema.superRefine(
    async (form, context) => {
      const values = form as unknown as Record<string, unknown> & NewPasswordValues;
      const check = await checkPassword(values.password, userInputsOf(values));
      for (const failure of check.failures) {
        context.addIssue({ code: "custom", path: ["password"], message: failure.message, params: { rule: failure.rule } });
      }
      if (values.passwordConfirmation !== values.password) {
        const message = values.passwordConfirmation.length === 0 ? "Enter the password again." : passwordMismatchMessage;
        context.addIssue({ code: "custom", path: ["passwordConfirmation"], message });
      }
    },
    { when: newPasswordFieldsParsed },
  );
}
