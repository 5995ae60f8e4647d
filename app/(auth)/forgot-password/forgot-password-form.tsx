"use client";

import { useActionState, useState } from "react";
import type { ActionResult } from "@/lib/action";

type RequestResetAction = (previous: ActionResult<null> | null, input: FormData) => Promise<ActionResult<null>>;

export function ForgotPasswordForm({ requestResetAction }: { requestResetAction: RequestResetAction }) {
  const [result, formAction, pending] = useActionState(requestResetAction, null);
  // Controlled, because React resets a form's uncontrolled fields after its action runs, and a refused
  // request should not make the customer type the address again.
  const [email, setEmail] = useState("");
  if (result?.ok) {
    return (
      <p role="status">
        If an account uses that address, we have sent it a link to reset the password. The link expires in 30
        minutes.
      </p>
    );
  }
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
        <input
          id="email"
          name="email"
          value={email}
          onChange={(event) => setEmail(event.target.value)}
          type="email"
          autoComplete="email"
          required
          maxLength={254}
          aria-describedby={fieldErrors?.email ? "email-error" : undefined}
        />
        {fieldErrors?.email ? (
          <span className="field-error" id="email-error">
            {fieldErrors.email[0]}
          </span>
        ) : null}
      </div>
      <button className="button" type="submit" disabled={pending}>
        {pending ? "Sending…" : "Send me a reset link"}
      </button>
    </form>
  );
}
