"use client";

import { useRouter } from "next/navigation";
import { useActionState, useEffect } from "react";
import type { ActionResult } from "@/lib/action";

type Action<T> = (previous: ActionResult<T> | null, input: FormData) => Promise<ActionResult<T>>;

interface CustomerCareButtonProps<T> {
  customerId: string;
  label: string;
  pendingLabel: string;
  /** What to say once it worked (text, not a function: this prop comes from a server component). */
  successMessage: string;
  action: Action<T>;
}

/** A one-click customer-care action on the customer's page (clear the sign-in lock, revoke all sessions). */
export function CustomerCareButton<T>({ customerId, label, pendingLabel, successMessage, action }: CustomerCareButtonProps<T>) {
  const router = useRouter();
  const [result, formAction, pending] = useActionState(action, null);
  useEffect(() => {
    if (result?.ok) router.refresh();
  }, [result, router]);
  return (
    <form action={formAction}>
      <input type="hidden" name="customerId" value={customerId} />
      <button className="button" type="submit" disabled={pending}>
        {pending ? pendingLabel : label}
      </button>
      {result?.ok ? (
        <p className="success" role="status">
          {successMessage}
        </p>
      ) : null}
      {result && !result.ok ? (
        <p className="field-error" role="alert">
          {result.message}
        </p>
      ) : null}
    </form>
  );
}
