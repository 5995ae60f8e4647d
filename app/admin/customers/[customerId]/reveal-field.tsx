"use client";

import { startTransition, useActionState, useEffect, useId, useState } from "react";
import { isStepUpRequired, StepUpPrompt } from "@/app/components/step-up-prompt";
import type { ActionResult } from "@/lib/action";
import { maximumStaffReasonLength, minimumStaffReasonLength, type RevealableCustomerField } from "@/lib/validation/admin-customers";

type Action<T> = (previous: ActionResult<T> | null, input: FormData | Record<string, unknown>) => Promise<ActionResult<T>>;

interface RevealFieldProps {
  customerId: string;
  field: RevealableCustomerField;
  label: string;
  masked: string;
  revealCustomerField: Action<{ field: RevealableCustomerField; value: string | null }>;
  confirmRevealStepUp: Action<null>;
}

/** How long a revealed value stays on screen before it is masked again. */
const revealSeconds = 30;

/**
 * One masked profile field with its "Reveal" control: the staff member states a reason, confirms with a code
 * from their authenticator app (the step-up is bound to this customer and field), and sees the value for 30
 * seconds. The value lives only in this component's state and is dropped when the time is up.
 */
export function RevealField({ customerId, field, label, masked, revealCustomerField, confirmRevealStepUp }: RevealFieldProps) {
  const reasonId = useId();
  const errorId = useId();
  const [asking, setAsking] = useState(false);
  const [input, setInput] = useState<Record<string, unknown> | null>(null);
  const [result, dispatch, pending] = useActionState(revealCustomerField, null);
  const [shown, setShown] = useState<{ value: string | null; result: ActionResult<unknown> } | null>(null);
  const [secondsLeft, setSecondsLeft] = useState(0);

  useEffect(() => {
    if (result?.ok && shown?.result !== result) {
      setShown({ value: result.data.value, result });
      setSecondsLeft(revealSeconds);
      setAsking(false);
    }
  }, [result, shown]);

  useEffect(() => {
    if (shown === null) return;
    if (secondsLeft <= 0) {
      // Time is up: the value is dropped from memory, not only hidden. The result is kept, so that the same
      // answer is not shown again; a new reveal is a new result.
      if (shown.value !== null) setShown({ value: null, result: shown.result });
      return;
    }
    const timer = setTimeout(() => setSecondsLeft((left) => left - 1), 1000);
    return () => clearTimeout(timer);
  }, [shown, secondsLeft]);

  const visible = shown !== null && secondsLeft > 0;
  const submit = (formData: FormData) => {
    const next = { customerId, field, reason: String(formData.get("reason") ?? "") };
    setInput(next);
    startTransition(() => dispatch(next));
  };
  const failure = result && !result.ok && !isStepUpRequired(result) ? result : null;
  const reasonErrors = failure?.fieldErrors?.reason ?? [];

  return (
    <>
      <dt>{label}</dt>
      <dd data-testid={`profile-${field}`}>
        {visible ? (
          <span className="revealed-value">
            {shown.value ?? "Not on file"} <span className="hint">(hidden again in {secondsLeft} s)</span>
          </span>
        ) : (
          <span>{masked}</span>
        )}{" "}
        {!visible && !asking ? (
          <button className="button-quiet" type="button" onClick={() => setAsking(true)} aria-label={`Reveal ${label.toLowerCase()}`}>
            Reveal
          </button>
        ) : null}
        {asking ? (
          <form className="reveal-form" action={submit}>
            <div className="field">
              <label htmlFor={reasonId}>Why do you need to see the {label.toLowerCase()}?</label>
              <textarea
                id={reasonId}
                name="reason"
                required
                minLength={minimumStaffReasonLength}
                maxLength={maximumStaffReasonLength}
                rows={2}
                aria-invalid={reasonErrors.length > 0}
                aria-describedby={reasonErrors.length > 0 ? errorId : undefined}
              />
              <span className="hint">Recorded in the audit trail. Do not copy customer data into it.</span>
              {reasonErrors.length > 0 ? (
                <ul className="field-error" id={errorId} role="alert">
                  {reasonErrors.map((message) => (
                    <li key={message}>{message}</li>
                  ))}
                </ul>
              ) : null}
            </div>
            <div className="reveal-actions">
              <button className="button" type="submit" disabled={pending}>
                {pending ? "Checking…" : "Reveal"}
              </button>
              <button className="button-quiet" type="button" onClick={() => setAsking(false)}>
                Cancel
              </button>
            </div>
            {failure && reasonErrors.length === 0 ? (
              <p className="field-error" role="alert">
                {failure.message}
              </p>
            ) : null}
          </form>
        ) : null}
        {asking && input !== null ? (
          <StepUpPrompt
            result={result}
            operation="staff_reveal_pii"
            operationInput={input}
            confirmStepUp={confirmRevealStepUp}
            onConfirmed={() => startTransition(() => dispatch(input))}
            purpose={`revealing the ${label.toLowerCase()}`}
          />
        ) : null}
      </dd>
    </>
  );
}
