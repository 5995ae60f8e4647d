import { z } from "zod";
import { isValidAccountNumber } from "@/lib/accounts/account-number";
import { strictObject, text } from "@/lib/validation/fields";

/**
 * The schemas of the payee forms: the confirmation-of-payee lookup and saving a payee take the same two fields.
 * No `server-only`: the browser form checks the same rules before it sends anything.
 */
export const maximumPayeeNameLength = 140;

export const payeeAccountNumberField = z
  .string({ error: "Enter the 10-digit account number." })
  .max(64, "Enter the 10-digit account number.")
  // People copy account numbers with spaces or dashes between groups; only the digits count.
  .transform((value) => value.replace(/[\s-]/g, ""))
  .refine(isValidAccountNumber, { error: "That is not a valid account number. Check the digits and try again." });

export const payeeNameInputField = text({
  min: 1,
  max: maximumPayeeNameLength,
  tooShort: "Enter the name on the account.",
  tooLong: `Use at most ${maximumPayeeNameLength} characters for the name.`,
});

export const payeeDetailsSchema = strictObject({
  accountNumber: payeeAccountNumberField,
  name: payeeNameInputField,
});

export type PayeeDetailsInput = z.input<typeof payeeDetailsSchema>;
export type PayeeDetails = z.output<typeof payeeDetailsSchema>;

export const removePayeeSchema = strictObject({ payeeId: z.uuid({ error: "Choose a payee." }) });
