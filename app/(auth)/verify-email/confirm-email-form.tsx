"use client";

import Link from "next/link";
import { useActionState } from "react";
import type { ActionResult } from "@/lib/action";

type ConfirmResult = ActionResult<{ outcome: "registration_verified" | "email_changed" }>;
type ConfirmAction = (previous: ConfirmResult | null, input: FormData) => Promise<ConfirmResult>;

export function ConfirmEmailForm({ confirmAction, token }: { confirmAction: ConfirmAction; token: string }) {
  const [result, formAction, pending] = useActionState(confirmAction, null);
  if (result?.ok) {
    return (
      <div role="status">
        <p>
          {result.data.outcome === "registration_verified"
            ? "Your email address is confirmed and your account is open."
            : "Your new email address is confirmed."}
        </p>
        <Link className="button" href="/login">
          Sign in
        </Link>
      </div>
    );
  }
  return (
    <form action={formAction}>
      {result && !result.ok ? (
        <p className="alert" role="alert">
          {result.message}
        </p>
      ) : null}
      <input type="hidden" name="token" value={token} />
      <p>Press the button to confirm this email address.</p>
      <button className="button" type="submit" disabled={pending}>
        {pending ? "Confirming…" : "Confirm my email address"}
      </button>
    </form>
  );
}
