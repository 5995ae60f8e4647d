"use client";

import { type FormEvent, startTransition, useActionState, useId, useState } from "react";
import { FieldErrorList } from "@/app/components/field-errors";
import { isStepUpRequired, StepUpPrompt } from "@/app/components/step-up-prompt";
import type { ActionResult } from "@/lib/action";
import { maximumMfaResetReasonLength } from "@/lib/validation/mfa-reset";

type FormAction<T> = (previous: ActionResult<T> | null, input: FormData) => Promise<ActionResult<T>>;

interface MfaResetRequestFormProps {
  requestAction: FormAction<{ requestId: string }>;
  confirmStepUp: FormAction<null>;
  /** On the customer page the customer is known: the id is fixed and not shown as a field. */
  customerId?: string;
}

/**
 * Requesting the reset of a customer's second factor, with a reason for the approver. The code confirmed in the
 * step-up prompt is bound to this customer. Embeddable: the customer page passes its `customerId`.
 */
export function MfaResetRequestForm({ requestAction, confirmStepUp, customerId }: MfaResetRequestFormProps) {
  const [result, dispatch, pending] = useActionState(requestAction, null);
  const [submitted, setSubmitted] = useState<{ customerId: string; reason: string } | null>(null);
  const customerFieldId = useId();
  const reasonFieldId = useId();
  const fieldErrors = result && !result.ok ? result.fieldErrors : undefined;

  const send = (values: { customerId: string; reason: string }) => {
    const formData = new FormData();
    formData.set("customerId", values.customerId);
    formData.set("reason", values.reason);
    startTransition(() => dispatch(formData));
  };

  const submit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const formData = new FormData(event.currentTarget);
    const values = {
      customerId: customerId ?? String(formData.get("customerId") ?? ""),
      reason: String(formData.get("reason") ?? ""),
    };
    setSubmitted(values);
    send(values);
  };

  return (
    <div>
      <div role="status" className="status-region">
        {result?.ok ? (
          <p className="notice" data-testid="mfa-reset-requested">
            Reset requested. A different staff member must now approve it.
          </p>
        ) : null}
      </div>
      <form onSubmit={submit} noValidate data-testid="mfa-reset-request-form">
        {customerId ? null : (
          <div className="field">
            <label htmlFor={customerFieldId}>Customer id</label>
            <input id={customerFieldId} name="customerId" autoComplete="off" maxLength={64} required />
            <FieldErrorList id={`${customerFieldId}-errors`} messages={fieldErrors?.customerId ?? []} />
          </div>
        )}
        <div className="field">
          <label htmlFor={reasonFieldId}>Reason (how the customer&apos;s identity was checked)</label>
          <textarea id={reasonFieldId} name="reason" maxLength={maximumMfaResetReasonLength} rows={3} required />
          <FieldErrorList id={`${reasonFieldId}-errors`} messages={fieldErrors?.reason ?? []} />
        </div>
        <button className="button" type="submit" disabled={pending}>
          {pending ? "Requesting…" : "Request second-factor reset"}
        </button>
      </form>
      <StepUpPrompt
        result={result}
        operation="staff_request_mfa_reset"
        operationInput={submitted ? { customerId: submitted.customerId } : undefined}
        confirmStepUp={confirmStepUp}
        onConfirmed={() => {
          if (submitted) send(submitted);
        }}
        purpose="requesting this customer's second-factor reset"
      />
      {result && !result.ok && !result.fieldErrors && !isStepUpRequired(result) ? (
        <p className="alert" role="alert">
          {result.message}
        </p>
      ) : null}
    </div>
  );
}
