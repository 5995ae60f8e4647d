"use server";

import { action } from "@/lib/action";
import { changePassword, requestEmailChange } from "@/lib/identity/account-security";
import { emailChangeSchema } from "@/lib/validation/email-link";
import { passwordChangeSchema } from "@/lib/validation/password-change";

export const changeEmail = action(emailChangeSchema, async (actor, input) => {
  await requestEmailChange(actor, input);
  return null;
});

// The data layer checks the current password and re-checks the new one with the customer's own details.
export const changeMyPassword = action(passwordChangeSchema, async (actor, input) => {
  await changePassword(actor, { currentPassword: input.currentPassword, password: input.password });
  return null;
});
