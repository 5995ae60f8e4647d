"use server";

import { AuthError } from "next-auth";
import { publicAction } from "@/lib/action";
import { signIn } from "@/lib/auth/auth";
import { deviceIdForSignIn } from "@/lib/auth/device-cookie";
import { BankError } from "@/lib/errors";
import { safeRedirectPath } from "@/lib/security/safe-redirect";
import { signInSchema } from "@/lib/validation/sign-in";

export const signInWithPassword = publicAction(signInSchema, async (input) => {
  // The schema already reduced redirectTo to a same-site path; checking again here keeps this call safe even
  // if the schema changes, and the Auth.js redirect callback checks a third time.
  const redirectTo = safeRedirectPath(input.redirectTo);
  try {
    // On success signIn() throws Next's redirect to the target, which the wrapper lets through.
    const deviceId = await deviceIdForSignIn();
    await signIn("credentials", { email: input.email, password: input.password, deviceId, redirectTo });
  } catch (error) {
    if (error instanceof AuthError) throw new BankError("invalid_credentials", { cause: error });
    throw error;
  }
  return null;
});
