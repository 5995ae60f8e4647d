"use server";

import { publicAction } from "@/lib/action";
import { resetPassword } from "@/lib/identity/password-reset";
import { passwordResetSchema } from "@/lib/validation/password-reset";

// The schema checks every rule it can without knowing whose token this is; the data layer checks the
// password again with the account holder's name, email and date of birth once the token names them.
export const completePasswordReset = publicAction(passwordResetSchema, async (input, context) => {
  await resetPassword({ token: input.token, password: input.password }, context);
  return null;
});
