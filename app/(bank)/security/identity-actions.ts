"use server";

import { action } from "@/lib/action";
import { requestEmailChange } from "@/lib/identity/account-security";
import { emailChangeSchema } from "@/lib/validation/email-link";

export const changeEmail = action(emailChangeSchema, async (actor, input) => {
  await requestEmailChange(actor, input);
  return null;
});
