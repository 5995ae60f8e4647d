"use client";

import { startTransition, useActionState } from "react";
import { isStepUpRequired, StepUpPrompt } from "@/app/components/step-up-prompt";
import type { ActionResult } from "@/lib/action";

type FormAction<T> = (previous: ActionResult<T> | null, input: FormData) => Promise<ActionResult<T>>;

interface PendingMfaResetControlsProps {
  requestId: string;
  mayApprove: boolean;
  mayCancel: boolean;
  approveAction: FormAction<null>;
  cancelAction: FormAction<null>;
  confirmStepUp: FormAction<null>;
}

/** Approve (after a code bound to this request) and cancel, for one pending request. */
export function PendingMfaResetControls(props: PendingMfaResetControlsProps) {
  const { requestId, mayApprove, mayCancel } = props;
  const [approveResult, approve, approving] = useActionState(props.approveAction, null);
  const [cancelResult, cancel, cancelling] = useActionState(props.cancelAction, null);

  const send = (dispatch: (formData: FormData) => void) => {
    const formData = new FormData();
    formData.set("requestId", requestId);
    startTransition(() => dispatch(formData));
  };

  const failure = [approveResult, cancelResult].find((result) => result && !result.ok && !isStepUpRequired(result));
  return (
    <div className="mfa-reset-controls">
      {mayApprove ? (
        <button className="button" type="button" disabled={approving} onClick={() => send(approve)}>
          {approving ? "Approving…" : "Approve reset"}
        </button>
      ) : (
        <span className="muted">Another staff member must approve.</span>
      )}
      {mayCancel ? (
        <button className="button secondary" type="button" disabled={cancelling} onClick={() => send(cancel)}>
          {cancelling ? "Cancelling…" : "Cancel"}
        </button>
      ) : null}
      <StepUpPrompt
        result={approveResult}
        operation="staff_approve_mfa_reset"
        operationInput={{ requestId }}
        confirmStepUp={props.confirmStepUp}
        onConfirmed={() => send(approve)}
        purpose="approving this second-factor reset"
      />
      {failure && !failure.ok ? (
        <p className="alert" role="alert">
          {failure.message}
        </p>
      ) : null}
    </div>
  );
}
