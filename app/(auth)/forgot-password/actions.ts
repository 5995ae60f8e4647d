"use server";

import { publicAction } from "@/lib/action";
import { runAfterResponse } from "@/lib/after-response";
import { requestPasswordReset } from "@/lib/identity/password-reset";
import { forgotPasswordSchema } from "@/lib/validation/email-link";

// The answer never depends on whether the address has an account: the form says "if an account exists, we
// have sent a link" in every case. Neither does its timing: the look-up and the link are made after the
// response has been sent.
export const requestReset = publicAction(forgotPasswordSchema, async (input, context) => {
  await runAfterResponse("password reset request", () => requestPasswordReset(input.email, context));
  return null;
});
