"use client";

import { zodResolver } from "@hookform/resolvers/zod";
import { startTransition, useActionState, useEffect, useMemo, useRef } from "react";
import { useForm, useWatch } from "react-hook-form";
import { describedBy, FieldErrorList, fieldMessages } from "@/app/components/field-errors";
import { NewPasswordFields } from "@/app/components/new-password-fields";
import { usePasswordCheck } from "@/app/components/use-password-check";
import type { ActionResult } from "@/lib/action";
import { maximumPasswordLength } from "@/lib/validation/fields";
import {
  createPasswordChangeSchema,
  type PasswordChangeFormValues,
  type PasswordChangeInput,
} from "@/lib/validation/password-change";
import type { PasswordUserInputs } from "@/lib/validation/password-policy";

type ChangePasswordAction<Result> = (previous: ActionResult<Result> | null, input: FormData) => Promise<ActionResult<Result>>;

interface ChangePasswordFormProps<Result> {
  changePasswordAction: ChangePasswordAction<Result>;
  /** The signed-in customer's name and email (from the page), so that a password built from them is refused while typing. */
  userInputs?: PasswordUserInputs;
}

/**
 * Changing the password of the signed-in customer: the current password (checked by the action), the new
 * one and its confirmation. Checked in the browser with the schema the action parses, then the form's own
 * FormData goes to the action.
 */
export function ChangePasswordForm<Result>({ changePasswordAction, userInputs }: ChangePasswordFormProps<Result>) {
  const [result, formAction, pending] = useActionState(changePasswordAction, null);
  const formElement = useRef<HTMLFormElement>(null);
  const { legalName, email, dateOfBirth } = userInputs ?? {};
  const schema = useMemo(() => createPasswordChangeSchema({ legalName, email, dateOfBirth }), [legalName, email, dateOfBirth]);
  const {
    register,
    handleSubmit,
    control,
    reset,
    formState: { errors },
  } = useForm<PasswordChangeFormValues, unknown, PasswordChangeInput>({
    resolver: zodResolver(schema),
    criteriaMode: "all",
    defaultValues: { currentPassword: "", password: "", passwordConfirmation: "" },
  });
  const password = useWatch({ control, name: "password" });
  // Once the change is saved, the three passwords have no reason to stay in the page.
  useEffect(() => {
    if (result?.ok) reset();
  }, [result, reset]);
  const passwordCheck = usePasswordCheck(password, { legalName, email, dateOfBirth });

  const serverErrors = result && !result.ok ? result.fieldErrors : undefined;
  const messages = {
    currentPassword: fieldMessages(errors.currentPassword, serverErrors?.currentPassword),
    password: fieldMessages(errors.password, serverErrors?.password),
    passwordConfirmation: fieldMessages(errors.passwordConfirmation, serverErrors?.passwordConfirmation),
  };
  const hasFieldErrors = Object.values(messages).some((list) => list.length > 0);

  const submitValidForm = () => {
    const form = formElement.current;
    if (!form) return;
    startTransition(() => formAction(new FormData(form)));
  };

  return (
    <form ref={formElement} action={formAction} onSubmit={handleSubmit(submitValidForm)} noValidate>
      {/* Present from the start so that screen readers announce the confirmation when it appears. */}
      <div role="status" className="status-region">
        {result?.ok ? <p className="notice">Your password has been changed.</p> : null}
      </div>
      {result && !result.ok && !hasFieldErrors ? (
        <p className="alert" role="alert">
          {result.message}
        </p>
      ) : null}
      <div className="field">
        <label htmlFor="currentPassword">Current password</label>
        <input
          id="currentPassword"
          type="password"
          autoComplete="current-password"
          required
          maxLength={maximumPasswordLength}
          aria-invalid={messages.currentPassword.length > 0}
          aria-describedby={describedBy([], "currentPassword-errors", messages.currentPassword)}
          {...register("currentPassword")}
        />
        <FieldErrorList id="currentPassword-errors" messages={messages.currentPassword} />
      </div>
      <NewPasswordFields
        passwordLabel="New password"
        confirmationLabel="Confirm new password"
        passwordField={register("password")}
        confirmationField={register("passwordConfirmation")}
        passwordCheck={passwordCheck}
        messages={messages}
      />
      <button className="button" type="submit" disabled={pending}>
        {pending ? "Changing…" : "Change password"}
      </button>
    </form>
  );
}
