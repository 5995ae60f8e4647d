import { z } from "zod";
import { strictObject } from "@/lib/validation/fields";
import {
  newPasswordField,
  passwordConfirmationField,
  type PasswordUserInputs,
  withNewPasswordRules,
} from "@/lib/validation/password-policy";

/** 32 random bytes as unpadded base64url: the shape of every reset token the bank issues. */
export const resetTokenPattern = /^[A-Za-z0-9_-]{43}$/;

export const invalidResetLinkMessage = "This link is not valid. Ask for a new password reset email.";

/**
 * Choosing a new password from an emailed reset link. The token is only checked for shape here; whether it
 * exists, is unused and unexpired is the server's business. The server, once it knows whose token it is, can
 * build the schema again with that customer's name and email.
 */
export function createPasswordResetSchema(userInputs: PasswordUserInputs = {}) {
  return withNewPasswordRules(
    strictObject({
      token: z.string({ error: invalidResetLinkMessage }).regex(resetTokenPattern, { error: invalidResetLinkMessage }),
      password: newPasswordField(),
      passwordConfirmation: passwordConfirmationField(),
    }),
    () => userInputs,
  );
}

export const passwordResetSchema = createPasswordResetSchema();

export type PasswordResetFormValues = z.input<typeof passwordResetSchema>;
export type PasswordResetInput = z.output<typeof passwordResetSchema>;
