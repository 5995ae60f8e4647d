"use server";

import { publicAction } from "@/lib/action";
import { requestPasswordReset } from "@/lib/identity/password-reset";
import { forgotPasswordSchema } from "@/lib/validation/email-link";

// The answer never depends on whether the address has an account: the form says "if an account exists, we
// have sent a link" in every case.
export const requestReset = publicAction(forgotPasswordSchema, async (input, context) => {
  await requestPasswordReset(input.email, context);
  return null;
});
