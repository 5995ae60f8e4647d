"use client";

import { type FormEvent, useEffect, useId, useRef, useState, useTransition } from "react";
import type { ActionResult } from "@/lib/action";
import type { StepUpOperationName } from "@/lib/auth/step-up-operations";

/**
 * The step-up flow on the client, reusable by every protected action (recovery codes today; payees, transfers
 * and staff actions later):
 *
 * 1. The protected server action runs as usual. Its data layer calls `requireStepUpForPayload` with the
 *    operation's payload (lib/auth/step-up-operations.ts); without a confirmation the action wrapper answers
 *    the typed result `{ ok: false, code: "step_up_required", message }`.
 * 2. The form renders `<StepUpPrompt result={thatResult} … />`. When the result is `step_up_required`, it asks
 *    for the 6-digit code and sends it with the operation's name to the `confirmStepUp` server action
 *    (app/(bank)/step-up-actions.ts), which binds the confirmation to the payload the server computes.
 *    A wrong code answers `invalid_input` with a message on `code`, shown here (it counts towards the lock); a
 *    lock answers `unauthenticated`, shown too.
 * 3. On success, `onConfirmed` runs: the form calls its action again with the same input (inside its own
 *    `startTransition`, since `useActionState` actions must be dispatched in a transition), the server spends
 *    the confirmation, and the action's real result replaces `step_up_required`, which hides the prompt.
 *
 * Forms should not show their own error for `step_up_required` results (use `isStepUpRequired`): the prompt
 * explains what is asked.
 */

type ConfirmStepUpAction = (previous: ActionResult<null> | null, input: FormData) => Promise<ActionResult<null>>;

type Failure = Extract<ActionResult<unknown>, { ok: false }>;

/** Whether an action result asks for a step-up. */
export function isStepUpRequired(result: ActionResult<unknown> | null): result is Failure & { code: "step_up_required" } {
  return result !== null && !result.ok && result.code === "step_up_required";
}

interface StepUpPromptProps {
  /** The protected action's latest result; the prompt shows while it is `step_up_required`. */
  result: ActionResult<unknown> | null;
  /** Which operation the code is for; the server turns it into the payload the confirmation is bound to. */
  operation: StepUpOperationName;
  /**
   * For operations bound to one request (a transfer): the very input the protected action was sent. The server
   * computes the payload from it with the operation's own parsing, so the code confirms exactly that request.
   */
  operationInput?: Record<string, unknown>;
  confirmStepUp: ConfirmStepUpAction;
  /** Runs after a confirmed code: retry the original action here. */
  onConfirmed: () => void;
  /** What the code is for, in words (for example "new recovery codes"). */
  purpose: string;
}

export function StepUpPrompt({ result, operation, operationInput, confirmStepUp, onConfirmed, purpose }: StepUpPromptProps) {
  const headingId = useId();
  const inputId = useId();
  const errorId = useId();
  const input = useRef<HTMLInputElement>(null);
  const [failure, setFailure] = useState<Failure | null>(null);
  // The result a code was already confirmed for: the prompt stays hidden for it while the retry runs, and shows
  // again only for a new `step_up_required` result.
  const [answered, setAnswered] = useState<ActionResult<unknown> | null>(null);
  const [pending, startTransition] = useTransition();
  const visible = isStepUpRequired(result) && answered !== result;

  useEffect(() => {
    // Focus moves to the code field when the prompt appears, so keyboard and screen-reader users land on it.
    if (visible) input.current?.focus();
  }, [visible]);

  if (!visible) return null;

  const submit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const formData = new FormData(event.currentTarget);
    formData.set("operation", operation);
    // Sent as JSON text: the input may be nested (a transfer's destination), and forms are flat.
    if (operationInput !== undefined) formData.set("input", JSON.stringify(operationInput));
    startTransition(async () => {
      const outcome = await confirmStepUp(null, formData);
      if (outcome.ok) {
        setFailure(null);
        setAnswered(result);
        onConfirmed();
      } else {
        setFailure(outcome);
        input.current?.select();
      }
    });
  };

  const codeMessages = failure?.fieldErrors?.code ?? (failure ? [failure.message] : []);
  return (
    <form className="card step-up" aria-labelledby={headingId} onSubmit={submit} noValidate data-testid="step-up-prompt">
      <h3 id={headingId}>Confirm it is you</h3>
      <p className="muted">Enter the 6-digit code from your authenticator app to confirm {purpose}.</p>
      <div className="field">
        <label htmlFor={inputId}>Authentication code</label>
        <input
          ref={input}
          id={inputId}
          name="code"
          inputMode="numeric"
          autoComplete="one-time-code"
          pattern="[0-9]{6}"
          maxLength={6}
          required
          aria-invalid={codeMessages.length > 0}
          aria-describedby={codeMessages.length > 0 ? errorId : undefined}
        />
        {codeMessages.length > 0 ? (
          <ul className="field-error" id={errorId} role="alert">
            {codeMessages.map((message) => (
              <li key={message}>{message}</li>
            ))}
          </ul>
        ) : null}
      </div>
      <button className="button" type="submit" disabled={pending}>
        {pending ? "Confirming…" : "Confirm"}
      </button>
    </form>
  );
}
