"use client";

import { zodResolver } from "@hookform/resolvers/zod";
import { startTransition, useActionState, useRef } from "react";
import { useForm, useWatch } from "react-hook-form";
import { describedBy, FieldErrorList, fieldMessages } from "@/app/components/field-errors";
import { useHydrated } from "@/app/components/use-hydrated";
import { NewPasswordFields } from "@/app/components/new-password-fields";
import { usePasswordCheck } from "@/app/components/use-password-check";
import type { ActionResult } from "@/lib/action";
import { maximumEmailLength } from "@/lib/validation/fields";
import {
  maximumLegalNameLength,
  type RegistrationFormValues,
  type RegistrationInput,
  registrationSchema,
} from "@/lib/validation/registration";

type RegisterAction<Result> = (previous: ActionResult<Result> | null, input: FormData) => Promise<ActionResult<Result>>;

interface RegisterFormProps<Result> {
  registerAction: RegisterAction<Result>;
}

/**
 * The same sentence whatever the server did: a new account, an address that already has one, anything. Saying
 * more would let anyone find out who banks here by trying addresses.
 */
export const registrationSubmittedMessage = "Check your email: we have sent you a message to finish opening your account.";

/**
 * Opening an account. react-hook-form checks the form in the browser with the very schema the server action
 * parses (zodResolver), so a form that breaks a rule is never sent; when it is valid, the form's own FormData
 * goes to the server action, which parses it again. Without JavaScript the form posts to the action directly.
 */
export function RegisterForm<Result>({ registerAction }: RegisterFormProps<Result>) {
  const [result, formAction, pending] = useActionState(registerAction, null);
  const hydrated = useHydrated();
  const formElement = useRef<HTMLFormElement>(null);
  const {
    register,
    handleSubmit,
    control,
    formState: { errors },
  } = useForm<RegistrationFormValues, unknown, RegistrationInput>({
    resolver: zodResolver(registrationSchema),
    // Every broken password rule is listed, not only the first.
    criteriaMode: "all",
    defaultValues: { legalName: "", email: "", dateOfBirth: "", password: "", passwordConfirmation: "", acceptTerms: false },
  });
  const [legalName, email, dateOfBirth, password] = useWatch({
    control,
    name: ["legalName", "email", "dateOfBirth", "password"],
  });
  const passwordCheck = usePasswordCheck(password, { legalName, email, dateOfBirth });

  // The status region is on the page from the start, so that screen readers announce the sentence when it
  // appears (a live region inserted together with its text is often not read).
  const statusRegion = (
    <div role="status" className="status-region">
      {result?.ok ? <p className="notice">{registrationSubmittedMessage}</p> : null}
    </div>
  );
  const serverErrors = result && !result.ok ? result.fieldErrors : undefined;
  const hasServerFieldErrors = serverErrors !== undefined && Object.keys(serverErrors).length > 0;
  const messages = {
    legalName: fieldMessages(errors.legalName, serverErrors?.legalName),
    email: fieldMessages(errors.email, serverErrors?.email),
    dateOfBirth: fieldMessages(errors.dateOfBirth, serverErrors?.dateOfBirth),
    password: fieldMessages(errors.password, serverErrors?.password),
    passwordConfirmation: fieldMessages(errors.passwordConfirmation, serverErrors?.passwordConfirmation),
    acceptTerms: fieldMessages(errors.acceptTerms, serverErrors?.acceptTerms),
  };

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
          {result && !result.ok && !hasServerFieldErrors ? (
            <p className="alert" role="alert">
              {result.message}
            </p>
          ) : null}
          <div className="field">
            <label htmlFor="legalName">Full legal name</label>
            <input
              id="legalName"
              type="text"
              autoComplete="name"
              required
              maxLength={maximumLegalNameLength}
              aria-invalid={messages.legalName.length > 0}
              aria-describedby={describedBy(["legalName-hint"], "legalName-errors", messages.legalName)}
              {...register("legalName")}
            />
            <span className="hint" id="legalName-hint">
              As it appears on your passport or driving licence.
            </span>
            <FieldErrorList id="legalName-errors" messages={messages.legalName} />
          </div>
          <div className="field">
            <label htmlFor="email">Email</label>
            <input
              id="email"
              type="email"
              autoComplete="email"
              required
              maxLength={maximumEmailLength}
              aria-invalid={messages.email.length > 0}
              aria-describedby={describedBy([], "email-errors", messages.email)}
              {...register("email")}
            />
            <FieldErrorList id="email-errors" messages={messages.email} />
          </div>
          <div className="field">
            <label htmlFor="dateOfBirth">Date of birth</label>
            <input
              id="dateOfBirth"
              type="date"
              autoComplete="bday"
              required
              aria-invalid={messages.dateOfBirth.length > 0}
              aria-describedby={describedBy(["dateOfBirth-hint"], "dateOfBirth-errors", messages.dateOfBirth)}
              {...register("dateOfBirth")}
            />
            <span className="hint" id="dateOfBirth-hint">
              You must be 18 or over to open an account.
            </span>
            <FieldErrorList id="dateOfBirth-errors" messages={messages.dateOfBirth} />
          </div>
          <NewPasswordFields
            passwordLabel="Password"
            confirmationLabel="Confirm password"
            passwordField={register("password")}
            confirmationField={register("passwordConfirmation")}
            passwordCheck={passwordCheck}
            messages={messages}
          />
          <div className="field field-checkbox">
            <input
              id="acceptTerms"
              type="checkbox"
              required
              aria-invalid={messages.acceptTerms.length > 0}
              aria-describedby={describedBy([], "acceptTerms-errors", messages.acceptTerms)}
              {...register("acceptTerms")}
            />
            <label htmlFor="acceptTerms">I have read and accept the terms and conditions</label>
            <FieldErrorList id="acceptTerms-errors" messages={messages.acceptTerms} />
          </div>
          <button className="button" type="submit" disabled={pending || !hydrated}>
            {pending ? "Opening your account…" : "Open an account"}
          </button>
        </form>
      )}
    </>
  );
}
