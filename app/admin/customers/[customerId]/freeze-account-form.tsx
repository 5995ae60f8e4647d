"use client";

import { useRouter } from "next/navigation";
import { startTransition, useActionState, useEffect, useId, useState } from "react";
import { isStepUpRequired, StepUpPrompt } from "@/app/components/step-up-prompt";
import type { ActionResult } from "@/lib/action";
import { maximumStaffReasonLength, minimumStaffReasonLength } from "@/lib/validation/admin-customers";

type Action<T> = (previous: ActionResult<T> | null, input: FormData | Record<string, unknown>) => Promise<ActionResult<T>>;

interface FreezeAccountFormProps {
  accountId: string;
  accountNumber: string;
  /** Freeze an active account, unfreeze a frozen one. */
  freeze: boolean;
  setCustomerAccountFrozen: Action<{ accountId: string; status: "active" | "frozen" }>;
  confirmFreezeStepUp: Action<null>;
}

/** Freeze or unfreeze one account: a reason, then a step-up bound to this account and direction. */
export function FreezeAccountForm({ accountId, accountNumber, freeze, setCustomerAccountFrozen, confirmFreezeStepUp }: FreezeAccountFormProps) {
  const router = useRouter();
  const reasonId = useId();
  const [asking, setAsking] = useState(false);
  const [input, setInput] = useState<Record<string, unknown> | null>(null);
  const [result, dispatch, pending] = useActionState(setCustomerAccountFrozen, null);
  const verb = freeze ? "Freeze" : "Unfreeze";

  useEffect(() => {
    if (result?.ok) {
      setAsking(false);
      router.refresh();
    }
  }, [result, router]);

  const submit = (formData: FormData) => {
    const next = { accountId, frozen: freeze, reason: String(formData.get("reason") ?? "") };
    setInput(next);
    startTransition(() => dispatch(next));
  };
  const failure = result && !result.ok && !isStepUpRequired(result) ? result : null;

  if (!asking) {
    return (
      <button className="button-quiet" type="button" onClick={() => setAsking(true)} aria-label={`${verb} account ${accountNumber}`}>
        {verb}
      </button>
    );
  }
  return (
    <div>
      <form className="reveal-form" action={submit}>
        <div className="field">
          <label htmlFor={reasonId}>Why {freeze ? "freeze" : "unfreeze"} account {accountNumber}?</label>
          <textarea id={reasonId} name="reason" required minLength={minimumStaffReasonLength} maxLength={maximumStaffReasonLength} rows={2} />
          {failure?.fieldErrors?.reason ? (
            <ul className="field-error" role="alert">
              {failure.fieldErrors.reason.map((message) => (
                <li key={message}>{message}</li>
              ))}
            </ul>
          ) : null}
        </div>
        <div className="reveal-actions">
          <button className="button" type="submit" disabled={pending}>
            {pending ? "Saving…" : verb}
          </button>
          <button className="button-quiet" type="button" onClick={() => setAsking(false)}>
            Cancel
          </button>
        </div>
        {failure && !failure.fieldErrors?.reason ? (
          <p className="field-error" role="alert">
            {failure.message}
          </p>
        ) : null}
      </form>
      {input !== null ? (
        <StepUpPrompt
          result={result}
          operation="staff_freeze_account"
          operationInput={input}
          confirmStepUp={confirmFreezeStepUp}
          onConfirmed={() => startTransition(() => dispatch(input))}
          purpose={`${freeze ? "freezing" : "unfreezing"} account ${accountNumber}`}
        />
      ) : null}
    </div>
  );
}
