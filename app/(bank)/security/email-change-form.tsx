"use client";

import { useActionState, useState } from "react";
import type { ActionResult } from "@/lib/action";

type EmailChangeAction = (previous: ActionResult<null> | null, input: FormData) => Promise<ActionResult<null>>;

export function EmailChangeForm({ emailChangeAction }: { emailChangeAction: EmailChangeAction }) {
  const [result, formAction, pending] = useActionState(emailChangeAction, null);
  // Controlled, because React resets a form's uncontrolled fields after its action runs, and a refused
  // request should not make the customer type the address again.
  const [newEmail, setNewEmail] = useState("");
  const fieldErrors = result && !result.ok ? result.fieldErrors : undefined;
  return (
    <form action={formAction} noValidate>
      {result?.ok ? (
        <p role="status">
          We have sent a confirmation link to the new address. Your email address changes when you follow it.
        </p>
      ) : null}
      {result && !result.ok && !fieldErrors ? (
        <p className="alert" role="alert">
          {result.message}
        </p>
      ) : null}
      <div className="field">
        <label htmlFor="new-email">New email address</label>
        <input
          id="new-email"
          name="newEmail"
          value={newEmail}
          onChange={(event) => setNewEmail(event.target.value)}
          type="email"
          autoComplete="email"
          required
          maxLength={254}
          aria-describedby={fieldErrors?.newEmail ? "new-email-error" : undefined}
        />
        {fieldErrors?.newEmail ? (
          <span className="field-error" id="new-email-error">
            {fieldErrors.newEmail[0]}
          </span>
        ) : null}
      </div>
      <div className="field">
        <label htmlFor="email-change-current-password">Current password</label>
        <input
          id="email-change-current-password"
          name="currentPassword"
          type="password"
          autoComplete="current-password"
          required
          maxLength={1024}
          aria-describedby={fieldErrors?.currentPassword ? "email-change-current-password-error" : undefined}
        />
        {fieldErrors?.currentPassword ? (
          <span className="field-error" id="email-change-current-password-error">
            {fieldErrors.currentPassword[0]}
          </span>
        ) : null}
      </div>
      <button className="button" type="submit" disabled={pending}>
        {pending ? "Sending…" : "Change email address"}
      </button>
    </form>
  );
}
