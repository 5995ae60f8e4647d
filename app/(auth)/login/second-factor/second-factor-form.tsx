"use client";

import { useActionState, useState } from "react";
import type { ActionResult } from "@/lib/action";

type CodeAction = (previous: ActionResult<null> | null, input: FormData) => Promise<ActionResult<null>>;

interface SecondFactorFormProps {
  verifyAction: CodeAction;
  /** A same-site path, already checked by the page; the action checks it again because forms can be forged. */
  redirectTo: string;
}

/** The code field, switchable between the authenticator's six digits and a recovery code. */
export function SecondFactorForm({ verifyAction, redirectTo }: SecondFactorFormProps) {
  const [result, formAction, pending] = useActionState(verifyAction, null);
  const [method, setMethod] = useState<"totp" | "recovery_code">("totp");
  const failure = result && !result.ok ? result : null;
  return (
    <form action={formAction} noValidate>
      {failure ? (
        <p className="alert" role="alert">
          {failure.fieldErrors?.code?.[0] ?? failure.message}
        </p>
      ) : null}
      <input type="hidden" name="redirectTo" value={redirectTo} />
      <input type="hidden" name="method" value={method} />
      {method === "totp" ? (
        <div className="field" key="totp">
          <label htmlFor="code">Authentication code</label>
          <input
            id="code"
            name="code"
            type="text"
            inputMode="numeric"
            autoComplete="one-time-code"
            pattern="[0-9]{6}"
            maxLength={6}
            required
            autoFocus
          />
          <span className="hint">The six-digit code your authenticator app shows for Harbour Bank.</span>
        </div>
      ) : (
        <div className="field" key="recovery">
          <label htmlFor="code">Recovery code</label>
          <input id="code" name="code" type="text" autoComplete="off" maxLength={64} required autoFocus />
          <span className="hint">Each recovery code works once.</span>
        </div>
      )}
      <button className="button" type="submit" disabled={pending}>
        {pending ? "Checking…" : "Verify"}
      </button>
      <p>
        <button
          className="link-button"
          type="button"
          onClick={() => setMethod(method === "totp" ? "recovery_code" : "totp")}
        >
          {method === "totp" ? "Use a recovery code instead" : "Use your authenticator app instead"}
        </button>
      </p>
    </form>
  );
}
