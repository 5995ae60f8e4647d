import { type z } from "zod";
import { password, strictObject } from "@/lib/validation/fields";
import {
  newPasswordField,
  passwordConfirmationField,
  type PasswordUserInputs,
  withNewPasswordRules,
} from "@/lib/validation/password-policy";

export const samePasswordMessage = "Choose a new password that is different from your current one.";

/**
 * Changing the password of a signed-in customer. The server knows the customer's name and email and passes
 * them in, so that a new password built from them is refused; the form receives the same details as a prop
 * and checks them as the customer types. Without them the schema still applies every other rule.
 */
export function createPasswordChangeSchema(userInputs: PasswordUserInputs = {}) {
  return withNewPasswordRules(
    strictObject({
      // The current password is checked by argon2 on the server, so here it only has to be present.
      currentPassword: password({ tooShort: "Enter your current password." }),
      password: newPasswordField(),
      passwordConfirmation: passwordConfirmationField(),
    }),
    () => userInputs,
  ).superRefine((form, context) => {
    // Both are NFC-normalised by now, so a retyped current password counts as the same whatever the keyboard.
    if (form.password === form.currentPassword) {
      context.addIssue({ code: "custom", path: ["password"], message: samePasswordMessage });
    }
  });
}

/** The schema without the customer's details, for callers that check those separately. */
export const passwordChangeSchema = createPasswordChangeSchema();

export type PasswordChangeFormValues = z.input<typeof passwordChangeSchema>;
export type PasswordChangeInput = z.output<typeof passwordChangeSchema>;
