"use client";

import { useActionState } from "react";
import type { ActionResult } from "@/lib/action";

type SignOutAction = (previous: ActionResult<null> | null, input: FormData) => Promise<ActionResult<null>>;

export function SignOutForm({ signOutAction }: { signOutAction: SignOutAction }) {
  const [, formAction, pending] = useActionState(signOutAction, null);
  return (
    <form action={formAction}>
      <button className="button-quiet" type="submit" disabled={pending}>
        Sign out
      </button>
    </form>
  );
}
