import { z } from "zod";
import { emailAddress, password, strictObject } from "@/lib/validation/fields";

/**
 * The token of an emailed link. Its exact shape is checked again by the data layer; here a bound keeps
 * oversized input from going further, and a malformed token gets the same answer as an expired one.
 */
export const emailLinkTokenSchema = strictObject({
  token: z.string({ error: "This link is incomplete." }).max(128, { error: "This link is incomplete." }),
});

export const forgotPasswordSchema = strictObject({
  email: emailAddress(),
});

export const emailChangeSchema = strictObject({
  currentPassword: password({ tooShort: "Enter your current password." }),
  newEmail: emailAddress({ required: "Enter the new email address." }),
});
