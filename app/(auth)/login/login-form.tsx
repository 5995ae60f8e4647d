"use client";

import { useActionState } from "react";
import type { ActionResult } from "@/lib/action";

type SignInAction = (previous: ActionResult<null> | null, input: FormData) => Promise<ActionResult<null>>;

export function LoginForm({ signInAction }: { signInAction: SignInAction }) {
  const [result, formAction, pending] = useActionState(signInAction, null);
  const fieldErrors = result && !result.ok ? result.fieldErrors : undefined;
  return (
    <form action={formAction} noValidate>
      {result && !result.ok && !fieldErrors ? (
        <p className="alert" role="alert">
          {result.message}
        </p>
      ) : null}
      <div className="field">
        <label htmlFor="email">Email</label>
        <input id="email" name="email" type="email" autoComplete="username" required maxLength={254} />
        {fieldErrors?.email ? <span className="field-error">{fieldErrors.email[0]}</span> : null}
      </div>
      <div className="field">
        <label htmlFor="password">Password</label>
        <input id="password" name="password" type="password" autoComplete="current-password" required maxLength={1024} />
        {fieldErrors?.password ? <span className="field-error">{fieldErrors.password[0]}</span> : null}
      </div>
      <button className="button" type="submit" disabled={pending}>
        {pending ? "Signing in…" : "Sign in"}
      </button>
    </form>
  );
}
