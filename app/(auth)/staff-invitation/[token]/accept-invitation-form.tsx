"use client";

import Link from "next/link";
import { useActionState } from "react";
import { FieldErrorList } from "@/app/components/field-errors";
import type { ActionResult } from "@/lib/action";
import { maximumPasswordLength } from "@/lib/validation/fields";

type AcceptAction = (previous: ActionResult<null> | null, input: FormData) => Promise<ActionResult<null>>;

/**
 * The invitee's password and first authenticator code. The action checks both (the password against the same
 * policy as customers', with the invitee's name and address) and creates the account only when both pass.
 */
export function AcceptInvitationForm({ acceptAction, token }: { acceptAction: AcceptAction; token: string }) {
  const [result, formAction, pending] = useActionState(acceptAction, null);
  const errors = result && !result.ok ? (result.fieldErrors ?? {}) : {};
  const alert = result && !result.ok && !result.fieldErrors ? result.message : errors.token?.[0];
  return (
    <>
      <div role="status" className="status-region">
        {result?.ok ? (
          <p className="notice">
            Your staff account is ready. <Link href="/login">Sign in</Link> with your email, password and a code from
            your authenticator app.
          </p>
        ) : null}
      </div>
      {result?.ok ? null : (
        <form action={formAction}>
          {alert ? (
            <p className="alert" role="alert">
              {alert}
            </p>
          ) : null}
          <input type="hidden" name="token" value={token} />
          <div className="field">
            <label htmlFor="password">Password</label>
            <input
              id="password"
              name="password"
              type="password"
              autoComplete="new-password"
              required
              maxLength={maximumPasswordLength}
              aria-invalid={Boolean(errors.password)}
              aria-describedby={errors.password ? "password-errors" : undefined}
            />
            <FieldErrorList id="password-errors" messages={errors.password ?? []} />
          </div>
          <div className="field">
            <label htmlFor="passwordConfirmation">Confirm password</label>
            <input
              id="passwordConfirmation"
              name="passwordConfirmation"
              type="password"
              autoComplete="new-password"
              required
              maxLength={maximumPasswordLength}
              aria-invalid={Boolean(errors.passwordConfirmation)}
              aria-describedby={errors.passwordConfirmation ? "passwordConfirmation-errors" : undefined}
            />
            <FieldErrorList id="passwordConfirmation-errors" messages={errors.passwordConfirmation ?? []} />
          </div>
          <div className="field">
            <label htmlFor="code">Code from your authenticator app</label>
            <input
              id="code"
              name="code"
              inputMode="numeric"
              autoComplete="one-time-code"
              pattern="[0-9]{6}"
              maxLength={6}
              required
              aria-invalid={Boolean(errors.code)}
              aria-describedby={errors.code ? "code-errors" : undefined}
            />
            <FieldErrorList id="code-errors" messages={errors.code ?? []} />
          </div>
          <button className="button" type="submit" disabled={pending}>
            {pending ? "Creating your account…" : "Create my staff account"}
          </button>
        </form>
      )}
    </>
  );
}
