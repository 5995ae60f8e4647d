"use client";

import { useActionState } from "react";
import type { ActionResult } from "@/lib/action";

type Action = (previous: ActionResult<null> | null, input: FormData) => Promise<ActionResult<null>>;

interface SignInLockSectionProps {
  customerId: string;
  locked: boolean;
  /** "until 5 Dec 2026, 16:40 UTC", formatted on the server so that every viewer reads the same. */
  lockedUntilText: string;
  mayClear: boolean;
  clearCustomerSignInLock: Action;
}

/**
 * The customer's sign-in lock and the button that clears it. The page re-renders after the action (the session
 * cookie is renewed), and the lock is gone by then; this component stays mounted across that refresh, so the
 * confirmation stays on screen and the member of staff sees that it worked.
 */
export function SignInLockSection({ customerId, locked, lockedUntilText, mayClear, clearCustomerSignInLock }: SignInLockSectionProps) {
  const [result, formAction, pending] = useActionState(clearCustomerSignInLock, null);
  if (result?.ok) {
    return (
      <section className="card section" aria-labelledby="lock-heading" data-testid="customer-lock">
        <h2 id="lock-heading">Sign-in lock cleared</h2>
        <p className="success" role="status">
          The lock is cleared. The customer can sign in now.
        </p>
      </section>
    );
  }
  if (!locked) return null;
  return (
    <section className="card section" aria-labelledby="lock-heading" data-testid="customer-lock">
      <h2 id="lock-heading">Sign-in locked</h2>
      <p>
        Locked {lockedUntilText} after repeated failed attempts. Clearing the lock lets the customer sign in at once.
      </p>
      {mayClear ? (
        <form action={formAction}>
          <input type="hidden" name="customerId" value={customerId} />
          <button className="button" type="submit" disabled={pending}>
            {pending ? "Clearing…" : "Clear sign-in lock"}
          </button>
          {result && !result.ok ? (
            <p className="field-error" role="alert">
              {result.message}
            </p>
          ) : null}
        </form>
      ) : null}
    </section>
  );
}
