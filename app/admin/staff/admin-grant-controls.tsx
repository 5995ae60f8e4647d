"use client";

import { startTransition, useActionState } from "react";
import { isStepUpRequired, StepUpPrompt } from "@/app/components/step-up-prompt";
import type { ActionResult } from "@/lib/action";

type FormAction = (previous: ActionResult<null> | null, input: Record<string, unknown>) => Promise<ActionResult<null>>;
type ConfirmStepUpAction = (previous: ActionResult<null> | null, input: FormData) => Promise<ActionResult<null>>;

/** Approve (a second admin, behind a step-up) or withdraw a pending grant of admin. */
export function AdminGrantControls({
  requestId,
  targetName,
  canApprove,
  canCancel,
  approve,
  cancel,
  confirmStepUp,
}: {
  requestId: string;
  targetName: string;
  canApprove: boolean;
  canCancel: boolean;
  approve: FormAction;
  cancel: FormAction;
  confirmStepUp: ConfirmStepUpAction;
}) {
  const [approveResult, dispatchApprove, approving] = useActionState(approve, null);
  const [cancelResult, dispatchCancel, cancelling] = useActionState(cancel, null);
  const input = { requestId };
  const submitApprove = () => startTransition(() => dispatchApprove(input));
  const submitCancel = () => startTransition(() => dispatchCancel(input));
  return (
    <div className="staff-controls">
      <div className="staff-controls-row">
        {canApprove ? (
          <button className="button" type="button" onClick={submitApprove} disabled={approving} aria-label={`Approve admin for ${targetName}`}>
            {approving ? "Approving…" : "Approve"}
          </button>
        ) : null}
        {canCancel ? (
          <button className="button secondary" type="button" onClick={submitCancel} disabled={cancelling}>
            {cancelling ? "Withdrawing…" : "Withdraw"}
          </button>
        ) : null}
      </div>
      <StepUpPrompt
        result={approveResult}
        operation="staff_approve_admin_grant"
        operationInput={input}
        confirmStepUp={confirmStepUp}
        onConfirmed={submitApprove}
        purpose={`making ${targetName} an admin`}
      />
      <div role="status" className="status-region">
        {approveResult?.ok ? <p className="notice">Approved: {targetName} is now an admin.</p> : null}
        {cancelResult?.ok ? <p className="notice">Request withdrawn.</p> : null}
      </div>
      {[approveResult, cancelResult].map((result, index) =>
        result && !result.ok && !isStepUpRequired(result) ? (
          <p key={index} className="alert" role="alert">
            {result.message}
          </p>
        ) : null,
      )}
    </div>
  );
}
