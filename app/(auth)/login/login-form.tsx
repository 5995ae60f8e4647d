"use client";

import { useActionState, useState } from "react";
import { useHydrated } from "@/app/components/use-hydrated";
import type { ActionResult } from "@/lib/action";

type SignInAction = (previous: ActionResult<null> | null, input: FormData) => Promise<ActionResult<null>>;

interface LoginFormProps {
  signInAction: SignInAction;
  /** A same-site path, already checked by the page; the action checks it again because forms can be forged. */
  redirectTo: string;
  defaultEmail: string;
}

export function LoginForm({ signInAction, redirectTo, defaultEmail }: LoginFormProps) {
  const [result, formAction, pending] = useActionState(signInAction, null);
  // Controlled, because React resets a form's uncontrolled fields after its action runs: after a refused
  // sign-in the email stays and only the password has to be typed again.
  const [email, setEmail] = useState(defaultEmail);
  const hydrated = useHydrated();
  const fieldErrors = result && !result.ok ? result.fieldErrors : undefined;
  // A failure with no message for a particular field (wrong password, a refused form) is shown as one alert.
  const hasFieldErrors = fieldErrors !== undefined && Object.keys(fieldErrors).length > 0;
  return (
    <form action={formAction} noValidate>
      {result && !result.ok && !hasFieldErrors ? (
        <p className="alert" role="alert">
          {result.message}
        </p>
      ) : null}
      <input type="hidden" name="redirectTo" value={redirectTo} />
      <div className="field">
        <label htmlFor="email">Email</label>
        <input
          id="email"
          name="email"
          type="email"
          autoComplete="username"
          required
          maxLength={254}
          value={email}
          onChange={(event) => setEmail(event.target.value)}
        />
        {fieldErrors?.email ? <span className="field-error">{fieldErrors.email[0]}</span> : null}
      </div>
      <div className="field">
        <label htmlFor="password">Password</label>
        <input id="password" name="password" type="password" autoComplete="current-password" required maxLength={1024} />
        {fieldErrors?.password ? <span className="field-error">{fieldErrors.password[0]}</span> : null}
      </div>
      <button className="button" type="submit" disabled={pending || !hydrated}>
        {pending ? "Signing in…" : "Sign in"}
      </button>
    </form>
  );
}
