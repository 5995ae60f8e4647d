"use client";

import { useActionState } from "react";
import type { ActionResult } from "@/lib/action";

type RemoveAction = (previous: ActionResult<null> | null, input: FormData) => Promise<ActionResult<null>>;

export function RemovePayeeButton({
  payeeId,
  payeeName,
  deletePayee,
}: {
  payeeId: string;
  payeeName: string;
  deletePayee: RemoveAction;
}) {
  const [result, formAction, pending] = useActionState(deletePayee, null);
  return (
    <form action={formAction}>
      <input type="hidden" name="payeeId" value={payeeId} />
      <button className="button secondary" type="submit" disabled={pending} aria-label={`Remove ${payeeName}`}>
        {pending ? "Removing…" : "Remove"}
      </button>
      {result && !result.ok ? (
        <p className="alert" role="alert">
          {result.message}
        </p>
      ) : null}
    </form>
  );
}
