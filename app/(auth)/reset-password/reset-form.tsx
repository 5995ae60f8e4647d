"use client";

import { zodResolver } from "@hookform/resolvers/zod";
import Link from "next/link";
import { startTransition, useActionState, useMemo, useRef } from "react";
import { useForm, useWatch } from "react-hook-form";
import { fieldMessages } from "@/app/components/field-errors";
import { NewPasswordFields } from "@/app/components/new-password-fields";
import { usePasswordCheck } from "@/app/components/use-password-check";
import type { ActionResult } from "@/lib/action";
import type { PasswordUserInputs } from "@/lib/validation/password-policy";
import {
  createPasswordResetSchema,
  type PasswordResetFormValues,
  type PasswordResetInput,
} from "@/lib/validation/password-reset";

type ResetAction<Result> = (previous: ActionResult<Result> | null, input: FormData) => Promise<ActionResult<Result>>;

interface ResetFormProps<Result> {
  resetAction: ResetAction<Result>;
  /** The token from the emailed link; the page passes it through untouched and the action checks it. */
  token: string;
  /**
   * The account holder's name and email, when the page knows them from the token, so that a password built
   * from them is refused while typing as well as by the action.
   */
  userInputs?: PasswordUserInputs;
}

/**
 * Choosing a new password from a reset link. Checked in the browser with the schema the action parses (so
 * nothing invalid is sent), then the form's own FormData, token included, goes to the action.
 */
export function ResetForm<Result>({ resetAction, token, userInputs }: ResetFormProps<Result>) {
  const [result, formAction, pending] = useActionState(resetAction, null);
  const formElement = useRef<HTMLFormElement>(null);
  const { legalName, email, dateOfBirth } = userInputs ?? {};
  const schema = useMemo(() => createPasswordResetSchema({ legalName, email, dateOfBirth }), [legalName, email, dateOfBirth]);
  const {
    register,
    handleSubmit,
    control,
    formState: { errors },
  } = useForm<PasswordResetFormValues, unknown, PasswordResetInput>({
    resolver: zodResolver(schema),
    criteriaMode: "all",
    defaultValues: { token, password: "", passwordConfirmation: "" },
  });
  const password = useWatch({ control, name: "password" });
  const passwordCheck = usePasswordCheck(password, { legalName, email, dateOfBirth });

  // Present from the start so that screen readers announce the confirmation when it appears.
  const statusRegion = (
    <div role="status" className="status-region">
      {result?.ok ? (
        <p className="notice">
          Your password has been changed. <Link href="/login">Sign in</Link> with your new password.
        </p>
      ) : null}
    </div>
  );
  const serverErrors = result && !result.ok ? result.fieldErrors : undefined;
  const messages = {
    // A bad token is not something the customer can fix in this form: it is shown as the form's alert.
    token: fieldMessages(errors.token, serverErrors?.token),
    password: fieldMessages(errors.password, serverErrors?.password),
    passwordConfirmation: fieldMessages(errors.passwordConfirmation, serverErrors?.passwordConfirmation),
  };
  const hasFieldErrors = messages.password.length > 0 || messages.passwordConfirmation.length > 0;
  const alert = messages.token[0] ?? (result && !result.ok && !hasFieldErrors ? result.message : null);

  const submitValidForm = () => {
    const form = formElement.current;
    if (!form) return;
    startTransition(() => formAction(new FormData(form)));
  };

  return (
    <>
      {statusRegion}
      {result?.ok ? null : (
        <form ref={formElement} action={formAction} onSubmit={handleSubmit(submitValidForm)} noValidate>
          {alert ? (
            <p className="alert" role="alert">
              {alert}
            </p>
          ) : null}
          {/* defaultValue puts the token in the server-rendered HTML, so the form also works before scripts run. */}
          <input type="hidden" defaultValue={token} {...register("token")} />
          <NewPasswordFields
            passwordLabel="New password"
            confirmationLabel="Confirm new password"
            passwordField={register("password")}
            confirmationField={register("passwordConfirmation")}
            passwordCheck={passwordCheck}
            messages={messages}
          />
          <button className="button" type="submit" disabled={pending}>
            {pending ? "Saving…" : "Set new password"}
          </button>
        </form>
      )}
    </>
  );
}
