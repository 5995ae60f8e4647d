import { z } from "zod";
import { emailAddress, strictObject, text } from "@/lib/validation/fields";
import {
  newPasswordField,
  passwordConfirmationField,
  textOrUndefined,
  withNewPasswordRules,
} from "@/lib/validation/password-policy";

/**
 * Opening an account. Shared by the registration form (through zodResolver) and its server action (through
 * lib/action.ts), so the browser and the server refuse exactly the same input.
 */

export const maximumLegalNameLength = 200;
export const minimumCustomerAge = 18;
export const maximumCustomerAge = 120;

/**
 * Letters of any script (with their combining marks), spaces, apostrophes (straight and typographic, which
 * phones type), hyphens and full stops, with at least one letter. Names are otherwise taken as written: the
 * bank must be able to print the name exactly as it appears on an identity document.
 */
const legalNamePattern = /^(?=.*\p{L})[\p{L}\p{M} '’.-]+$/u;

export const legalNameField = text({
  min: 1,
  max: maximumLegalNameLength,
  tooShort: "Enter your full legal name.",
  tooLong: `Use at most ${maximumLegalNameLength} characters.`,
}).pipe(z.string().regex(legalNamePattern, { error: "Use letters, spaces, apostrophes, hyphens and full stops only." }));

/** A calendar date as ISO yyyy-mm-dd, if it exists (no 31 April, no 29 February outside leap years). */
export function parseIsoDate(value: string): { year: number; month: number; day: number } | null {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
  if (!match) return null;
  const [year, month, day] = [Number(match[1]), Number(match[2]), Number(match[3])];
  const date = new Date(Date.UTC(year, month - 1, day));
  // Date.UTC treats years 0–99 as 1900–1999, and rolls 31 April over to 1 May: a round trip catches both.
  if (date.getUTCFullYear() !== year || date.getUTCMonth() !== month - 1 || date.getUTCDate() !== day) return null;
  return { year, month, day };
}

/**
 * Whole years between a date of birth and a day, the way birthdays are counted: someone born on 29 February
 * becomes a year older on 1 March in years without a 29 February.
 */
export function ageInYears(dateOfBirth: { year: number; month: number; day: number }, on: { year: number; month: number; day: number }): number {
  const birthdayPassed = on.month > dateOfBirth.month || (on.month === dateOfBirth.month && on.day >= dateOfBirth.day);
  return on.year - dateOfBirth.year - (birthdayPassed ? 0 : 1);
}

/**
 * Today in UTC. The browser and the server must agree on the day, or a customer on their eighteenth birthday
 * could pass the form and fail the action; UTC is the one day both can compute the same way.
 */
function todayInUtc(): { year: number; month: number; day: number } {
  const now = new Date();
  return { year: now.getUTCFullYear(), month: now.getUTCMonth() + 1, day: now.getUTCDate() };
}

export const dateOfBirthField = z
  .string({ error: "Enter your date of birth." })
  .max(10, { error: "Enter your date of birth as year, month and day." })
  .superRefine((value, context) => {
    if (value.length === 0) {
      context.addIssue({ code: "custom", message: "Enter your date of birth." });
      return;
    }
    const date = parseIsoDate(value);
    if (!date) {
      context.addIssue({ code: "custom", message: "Enter a real date of birth as year, month and day." });
      return;
    }
    const age = ageInYears(date, todayInUtc());
    if (age < minimumCustomerAge) {
      context.addIssue({ code: "custom", message: `You must be at least ${minimumCustomerAge} to open an account.` });
    } else if (age > maximumCustomerAge) {
      context.addIssue({ code: "custom", message: "Check the year of your date of birth." });
    }
  });

const acceptTermsMessage = "Accept the terms and conditions to open an account.";

/**
 * The terms checkbox: a posted form sends "on" when it is ticked and nothing when it is not; the client-side
 * form holds `true` or `false`. Only "on" and `true` accept; the output is always `true`.
 */
export const acceptTermsField = z
  .union([z.boolean(), z.literal("on")], { error: acceptTermsMessage })
  .refine((value) => value === true || value === "on", { error: acceptTermsMessage })
  .transform(() => true as const);

export const registrationSchema = withNewPasswordRules(
  strictObject({
    legalName: legalNameField,
    email: emailAddress(),
    dateOfBirth: dateOfBirthField,
    password: newPasswordField(),
    passwordConfirmation: passwordConfirmationField(),
    acceptTerms: acceptTermsField,
  }),
  // The customer's own details, as typed in this same form, make a password built from them weak.
  (form) => ({
    legalName: textOrUndefined(form.legalName),
    email: textOrUndefined(form.email),
    dateOfBirth: textOrUndefined(form.dateOfBirth),
  }),
);

export type RegistrationFormValues = z.input<typeof registrationSchema>;
export type RegistrationInput = z.output<typeof registrationSchema>;
