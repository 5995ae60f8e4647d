import type { UseFormRegisterReturn } from "react-hook-form";
import { describedBy, FieldErrorList } from "@/app/components/field-errors";
import { PasswordRules } from "@/app/components/password-rules";
import { PasswordStrengthMeter } from "@/app/components/password-strength-meter";
import type { PasswordCheckState } from "@/app/components/use-password-check";
import { maximumPasswordLength } from "@/lib/validation/fields";

interface NewPasswordFieldsProps {
  /** The fields' labels: "Password" when registering, "New password" when changing or resetting one. */
  passwordLabel: string;
  confirmationLabel: string;
  /** What the form's `register("password")` and `register("passwordConfirmation")` return. */
  passwordField: UseFormRegisterReturn<"password">;
  confirmationField: UseFormRegisterReturn<"passwordConfirmation">;
  passwordCheck: PasswordCheckState;
  messages: { password: string[]; passwordConfirmation: string[] };
}

/**
 * A new password and its confirmation, with the policy's rules and the strength meter under the first: the
 * same two fields wherever a customer chooses a password (registration, reset, change), so that the rules
 * read the same everywhere and the ids that the tests and screen readers rely on never drift apart.
 */
export function NewPasswordFields({
  passwordLabel,
  confirmationLabel,
  passwordField,
  confirmationField,
  passwordCheck,
  messages,
}: NewPasswordFieldsProps) {
  return (
    <>
      <div className="field">
        <label htmlFor="password">{passwordLabel}</label>
        <input
          id="password"
          type="password"
          autoComplete="new-password"
          required
          maxLength={maximumPasswordLength}
          aria-invalid={messages.password.length > 0}
          aria-describedby={describedBy(["password-rules", "password-strength"], "password-errors", messages.password)}
          {...passwordField}
        />
        <PasswordRules id="password-rules" state={passwordCheck} />
        <PasswordStrengthMeter id="password-strength" state={passwordCheck} />
        <FieldErrorList id="password-errors" messages={messages.password} />
      </div>
      <div className="field">
        <label htmlFor="passwordConfirmation">{confirmationLabel}</label>
        <input
          id="passwordConfirmation"
          type="password"
          autoComplete="new-password"
          required
          maxLength={maximumPasswordLength}
          aria-invalid={messages.passwordConfirmation.length > 0}
          aria-describedby={describedBy([], "passwordConfirmation-errors", messages.passwordConfirmation)}
          {...confirmationField}
        />
        <FieldErrorList id="passwordConfirmation-errors" messages={messages.passwordConfirmation} />
      </div>
    </>
  );
}
