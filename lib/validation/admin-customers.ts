import { z } from "zod";
import { strictObject, text } from "@/lib/validation/fields";

/**
 * The back office's customer-care inputs. No `server-only`: the admin forms check the same bounds before they
 * send, and the step-up operations (lib/auth/step-up-operations.ts) parse a confirmation's input with these
 * very schemas, so that what a code confirms is exactly what the action will do.
 */

/** The profile fields a staff member may reveal one at a time, each with a stated reason. */
export const revealableCustomerFields = ["email", "legal_name", "date_of_birth", "phone", "postal_address", "national_identifier"] as const;
export type RevealableCustomerField = (typeof revealableCustomerFields)[number];

export const revealableFieldLabels: Record<RevealableCustomerField, string> = {
  email: "Email",
  legal_name: "Legal name",
  date_of_birth: "Date of birth",
  phone: "Phone",
  postal_address: "Postal address",
  national_identifier: "National identifier",
};

export const minimumStaffReasonLength = 10;
export const maximumStaffReasonLength = 500;

/**
 * Why a staff member reveals a field or freezes an account: plain text (control and bidi characters removed,
 * NFC, trimmed), long enough to say something. It is the staff member's own words, stored in the audit trail,
 * and the forms ask them not to copy customer data into it.
 */
export const staffReason = text({
  min: minimumStaffReasonLength,
  max: maximumStaffReasonLength,
  tooShort: `Give a reason of at least ${minimumStaffReasonLength} characters.`,
  tooLong: `Keep the reason to at most ${maximumStaffReasonLength} characters.`,
});

export const customerSearchSchema = strictObject({
  query: text({ min: 1, max: 254, tooShort: "Enter an email address, an account number or a customer id." }),
});

export const customerIdSchema = strictObject({
  customerId: z.uuid({ error: "That is not a customer id." }),
});

export const revealCustomerFieldSchema = strictObject({
  customerId: z.uuid({ error: "That is not a customer id." }),
  field: z.enum(revealableCustomerFields, { error: "Choose a field to reveal." }),
  reason: staffReason,
});
export type RevealCustomerFieldInput = z.output<typeof revealCustomerFieldSchema>;

/** Forms send "true" and "false"; the step-up prompt sends the JSON input, which may carry a boolean. */
const frozenFlag = z.union([z.boolean(), z.enum(["true", "false"]).transform((value) => value === "true")], {
  error: "Say whether to freeze or unfreeze the account.",
});

export const setAccountFrozenSchema = strictObject({
  accountId: z.uuid({ error: "That is not an account id." }),
  frozen: frozenFlag,
  reason: staffReason,
});
export type SetAccountFrozenInput = z.output<typeof setAccountFrozenSchema>;
