"use client";

import { useActionState } from "react";
import type { ActionResult } from "@/lib/action";

type ConfirmAction = (
  previous: ActionResult<{ recoveryCodes: string[] }> | null,
  input: FormData,
) => Promise<ActionResult<{ recoveryCodes: string[] }>>;
type ContinueAction = (previous: ActionResult<null> | null, input: FormData) => Promise<ActionResult<null>>;

interface EnrolFormProps {
  confirmAction: ConfirmAction;
  continueAction: ContinueAction;
  redirectTo: string;
  /** The enrolment was already confirmed on this ticket (the page was reloaded): only "continue" is left. */
  alreadyConfirmed: boolean;
}

/** The confirmation field, then the recovery codes shown once and the button that completes the sign-in. */
export function EnrolForm({ confirmAction, continueAction, redirectTo, alreadyConfirmed }: EnrolFormProps) {
  const [confirmation, confirmFormAction, confirming] = useActionState(confirmAction, null);
  const [continued, continueFormAction, continuing] = useActionState(continueAction, null);
  const recoveryCodes = confirmation?.ok ? confirmation.data.recoveryCodes : null;
  const continueFailure = continued && !continued.ok ? continued.message : null;
  if (recoveryCodes || alreadyConfirmed) {
    return (
      <form action={continueFormAction}>
        {continueFailure ? (
          <p className="alert" role="alert">
            {continueFailure}
          </p>
        ) : null}
        {recoveryCodes ? (
          <>
            <h2>Your recovery codes</h2>
            <p>
              If you lose your phone, each of these codes signs you in once instead of a code from the app. Save
              them somewhere safe now: they are shown only this once.
            </p>
            <ul className="recovery-codes">
              {recoveryCodes.map((code) => (
                <li key={code} data-testid="recovery-code">
                  {code}
                </li>
              ))}
            </ul>
          </>
        ) : (
          <p>Your authenticator app is set up.</p>
        )}
        <input type="hidden" name="redirectTo" value={redirectTo} />
        <button className="button" type="submit" disabled={continuing}>
          {recoveryCodes ? "I have saved my recovery codes — continue" : "Continue"}
        </button>
      </form>
    );
  }
  const failure = confirmation && !confirmation.ok ? confirmation : null;
  return (
    <form action={confirmFormAction} noValidate>
      {failure ? (
        <p className="alert" role="alert">
          {failure.fieldErrors?.code?.[0] ?? failure.message}
        </p>
      ) : null}
      <input type="hidden" name="redirectTo" value={redirectTo} />
      <div className="field">
        <label htmlFor="code">Code from the app</label>
        <input
          id="code"
          name="code"
          type="text"
          inputMode="numeric"
          autoComplete="one-time-code"
          pattern="[0-9]{6}"
          maxLength={6}
          required
        />
      </div>
      <button className="button" type="submit" disabled={confirming}>
        {confirming ? "Checking…" : "Confirm"}
      </button>
    </form>
  );
}
