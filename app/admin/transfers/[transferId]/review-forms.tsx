"use client";

import { startTransition, useActionState, useRef, useState } from "react";
import { isStepUpRequired, StepUpPrompt } from "@/app/components/step-up-prompt";
import type { ActionResult } from "@/lib/action";

type FormAction<T> = (previous: ActionResult<T> | null, input: FormData) => Promise<ActionResult<T>>;

interface ApprovalOutcome {
  transferId: string;
  status: "posted" | "held";
  approvals: number;
  approvalsNeeded: 1 | 2;
}

function FailureMessage({ result }: { result: ActionResult<unknown> | null }) {
  // Field errors are shown next to their fields, and a step-up request by the step-up prompt.
  if (!result || result.ok || result.fieldErrors || isStepUpRequired(result)) return null;
  return (
    <p className="alert" role="alert">
      {result.message}
    </p>
  );
}

function FieldMessages({ id, messages }: { id: string; messages: readonly string[] | undefined }) {
  if (!messages || messages.length === 0) return null;
  return (
    <ul className="field-error" id={id}>
      {messages.map((message) => (
        <li key={message}>{message}</li>
      ))}
    </ul>
  );
}

function fieldErrorsOf(result: ActionResult<unknown> | null, field: string): readonly string[] | undefined {
  return result && !result.ok ? result.fieldErrors?.[field] : undefined;
}

export function CommentForm({ transferId, comment }: { transferId: string; comment: FormAction<null> }) {
  const [result, formAction, pending] = useActionState(comment, null);
  const messages = fieldErrorsOf(result, "note");
  return (
    <form action={formAction} data-testid="comment-form">
      <input type="hidden" name="transferId" value={transferId} />
      <div className="field">
        <label htmlFor="review-note">Comment</label>
        <input
          id="review-note"
          name="note"
          maxLength={500}
          required
          aria-invalid={(messages?.length ?? 0) > 0}
          aria-describedby="review-note-hint review-note-errors"
        />
        <p className="hint" id="review-note-hint">
          At most 500 characters, for other staff. Never copy the customer&apos;s personal details here.
        </p>
        <FieldMessages id="review-note-errors" messages={messages} />
      </div>
      <FailureMessage result={result} />
      {result?.ok ? (
        <p className="notice" role="status">
          Your comment is added.
        </p>
      ) : null}
      <button className="button-quiet" type="submit" disabled={pending}>
        {pending ? "Adding…" : "Add comment"}
      </button>
    </form>
  );
}

export function ApproveForm({
  transferId,
  approve,
  confirmStepUp,
}: {
  transferId: string;
  approve: FormAction<ApprovalOutcome>;
  confirmStepUp: FormAction<null>;
}) {
  const [result, formAction, pending] = useActionState(approve, null);
  const form = useRef<HTMLFormElement>(null);
  // The input the approval was last sent with: the retry after a confirmed step-up sends the very same.
  const [lastInput, setLastInput] = useState<FormData | null>(null);
  const submit = (formData: FormData) => {
    setLastInput(formData);
    formAction(formData);
  };
  const retry = () => {
    const input = lastInput ?? (form.current ? new FormData(form.current) : null);
    if (input) startTransition(() => formAction(input));
  };
  const messages = fieldErrorsOf(result, "note");
  return (
    <div>
      <form action={submit} ref={form} data-testid="approve-form">
        <input type="hidden" name="transferId" value={transferId} />
        <div className="field">
          <label htmlFor="approval-note">Note (optional)</label>
          <input
            id="approval-note"
            name="note"
            maxLength={500}
            aria-invalid={(messages?.length ?? 0) > 0}
            aria-describedby={messages && messages.length > 0 ? "approval-note-errors" : undefined}
          />
          <FieldMessages id="approval-note-errors" messages={messages} />
        </div>
        <button className="button" type="submit" disabled={pending}>
          {pending ? "Approving…" : "Approve"}
        </button>
      </form>
      <StepUpPrompt
        result={result}
        operation="staff_approve_transfer"
        operationInput={{ transferId }}
        confirmStepUp={confirmStepUp}
        onConfirmed={retry}
        purpose="your approval of this transfer"
      />
      <FailureMessage result={result} />
      {result?.ok ? (
        <p className="notice" role="status" data-testid="approval-outcome">
          {result.data.status === "posted"
            ? "Approved: the transfer is posted."
            : `Your approval is recorded (${result.data.approvals} of ${result.data.approvalsNeeded}); a different staff member must approve it too.`}
        </p>
      ) : null}
    </div>
  );
}

export function RejectForm({ transferId, reject }: { transferId: string; reject: FormAction<{ transferId: string; status: "rejected" }> }) {
  const [result, formAction, pending] = useActionState(reject, null);
  const messages = fieldErrorsOf(result, "reason");
  return (
    <form action={formAction} data-testid="reject-form">
      <input type="hidden" name="transferId" value={transferId} />
      <div className="field">
        <label htmlFor="rejection-reason">Reason for rejecting</label>
        <input
          id="rejection-reason"
          name="reason"
          maxLength={500}
          required
          aria-invalid={(messages?.length ?? 0) > 0}
          aria-describedby={messages && messages.length > 0 ? "rejection-reason-errors" : undefined}
        />
        <FieldMessages id="rejection-reason-errors" messages={messages} />
      </div>
      <FailureMessage result={result} />
      {result?.ok ? (
        <p className="notice" role="status">
          Rejected: the hold is released.
        </p>
      ) : null}
      <button className="button-quiet" type="submit" disabled={pending}>
        {pending ? "Rejecting…" : "Reject"}
      </button>
    </form>
  );
}
