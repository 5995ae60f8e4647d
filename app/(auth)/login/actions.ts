"use server";

import { AuthError } from "next-auth";
import { publicAction } from "@/lib/action";
import { signIn } from "@/lib/auth/auth";
import { BankError } from "@/lib/errors";
import { signInSchema } from "@/lib/validation/sign-in";

export const signInWithPassword = publicAction(signInSchema, async (input) => {
  try {
    // On success signIn() throws Next's redirect to the dashboard, which the wrapper lets through.
    await signIn("credentials", { email: input.email, password: input.password, redirectTo: "/" });
  } catch (error) {
    if (error instanceof AuthError) throw new BankError("invalid_credentials", { cause: error });
    throw error;
  }
  return null;
});
