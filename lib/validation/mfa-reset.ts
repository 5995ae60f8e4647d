import { z } from "zod";
import { password, strictObject, text } from "@/lib/validation/fields";

/**
 * The back office's MFA reset (lib/admin/mfa-reset) and the customer's re-enrolment link
 * (lib/auth/mfa-reenrolment.ts). No `server-only`: the forms check the same schemas before sending.
 */

export const maximumMfaResetReasonLength = 500;

const identifier = (message: string) => z.string({ error: message }).trim().pipe(z.uuid({ error: message }));

export const customerIdField = identifier("Enter the customer's id.");
export const mfaResetRequestIdField = identifier("That request does not exist.");

/** A staff member asks for a customer's second factor to be reset, saying why (shown to the approver). */
export const requestMfaResetSchema = strictObject({
  customerId: customerIdField,
  reason: text({
    min: 1,
    max: maximumMfaResetReasonLength,
    tooShort: "Say why the second factor should be reset.",
    tooLong: `Use at most ${maximumMfaResetReasonLength} characters.`,
  }),
});

/** Approving or cancelling one pending request. */
export const mfaResetDecisionSchema = strictObject({ requestId: mfaResetRequestIdField });

/** The shape of every emailed token: 43 base64url characters (lib/identity/tokens.ts). */
const reenrolmentToken = z
  .string({ error: "This link is not valid." })
  .regex(/^[A-Za-z0-9_-]{43}$/, { error: "This link is not valid." });

/** Step 1 on the re-enrolment page: the link's token and the customer's password. */
export const startMfaReenrolmentSchema = strictObject({ token: reenrolmentToken, password: password() });

/** Step 2: the first code from the new authenticator. */
export const completeMfaReenrolmentSchema = strictObject({
  token: reenrolmentToken,
  code: text({ min: 1, max: 64, tooShort: "Enter the code.", tooLong: "That code is too long." }),
});
