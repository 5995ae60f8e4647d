import { z } from "zod";
import { cleanText, password, strictObject } from "@/lib/validation/fields";

/**
 * A phone number as people type it ("+44 20 7946 0958", "(020) 7946-0958"): digits with spaces, dots, dashes
 * and brackets, an optional leading "+". Stored as "+" (if given) and the digits only, so one number has one
 * form. E.164 allows at most 15 digits; fewer than 7 is no reachable number. Empty means "no phone number".
 */
export const maximumPhoneDigits = 15;
export const minimumPhoneDigits = 7;

export function normalisePhone(value: string): string {
  const trimmed = value.trim();
  const digits = trimmed.replace(/[^0-9]/g, "");
  return trimmed.startsWith("+") ? `+${digits}` : digits;
}

const phone = z
  .string({ error: "Enter a phone number, or leave it empty." })
  .max(64, { error: "That phone number is too long." })
  .transform(cleanText)
  .superRefine((value, context) => {
    if (value === "") return;
    if (!/^\+?[0-9 ().-]+$/.test(value)) {
      context.addIssue({ code: "custom", message: "Use digits, spaces and an optional + at the start." });
      return;
    }
    const digitCount = value.replace(/[^0-9]/g, "").length;
    if (digitCount < minimumPhoneDigits || digitCount > maximumPhoneDigits) {
      context.addIssue({ code: "custom", message: `A phone number has ${minimumPhoneDigits} to ${maximumPhoneDigits} digits.` });
    }
  })
  .transform((value) => (value === "" ? null : normalisePhone(value)));

export const maximumAddressLines = 6;
export const maximumAddressLength = 200;

/**
 * A postal address typed into a textarea: each line cleaned like every other text field (controls and bidi
 * overrides removed, NFC, trimmed), empty lines dropped, at most six lines and 200 characters in all. Empty
 * means "no address".
 */
const postalAddress = z
  .string({ error: "Enter an address, or leave it empty." })
  .max(maximumAddressLength * 4, { error: `Use at most ${maximumAddressLength} characters.` })
  .transform((value) =>
    value
      .split(/\r\n|\r|\n/)
      .map(cleanText)
      .filter((line) => line !== ""),
  )
  .superRefine((lines, context) => {
    if (lines.length > maximumAddressLines) {
      context.addIssue({ code: "custom", message: `Use at most ${maximumAddressLines} lines.` });
    }
    if (lines.join("\n").length > maximumAddressLength) {
      context.addIssue({ code: "custom", message: `Use at most ${maximumAddressLength} characters.` });
    }
  })
  .transform((lines) => (lines.length === 0 ? null : lines.join("\n")));

/** The customer's own change of contact details: needs the current password, like a change of email. */
export const contactDetailsSchema = strictObject({
  currentPassword: password({ tooShort: "Enter your current password." }),
  phone,
  postalAddress,
});

export type ContactDetailsInput = z.output<typeof contactDetailsSchema>;
