"use client";

import { useActionState } from "react";
import { FieldErrorList } from "@/app/components/field-errors";
import type { ActionResult } from "@/lib/action";
import { maximumEmailLength } from "@/lib/validation/fields";
import { maximumLegalNameLength } from "@/lib/validation/registration";

type InviteAction = (previous: ActionResult<null> | null, input: FormData) => Promise<ActionResult<null>>;

/** Invites a support or auditor member. Admin is not offered: it is granted afterwards, with a second admin. */
export function InviteStaffForm({ inviteAction }: { inviteAction: InviteAction }) {
  const [result, formAction, pending] = useActionState(inviteAction, null);
  const errors = result && !result.ok ? (result.fieldErrors ?? {}) : {};
  return (
    <form action={formAction} data-testid="invite-staff-form">
      <div role="status" className="status-region">
        {result?.ok ? <p className="notice">Invitation sent. The link works once, for 24 hours.</p> : null}
      </div>
      {result && !result.ok && !result.fieldErrors ? (
        <p className="alert" role="alert">
          {result.message}
        </p>
      ) : null}
      <div className="field">
        <label htmlFor="invite-legal-name">Full legal name</label>
        <input id="invite-legal-name" name="legalName" required maxLength={maximumLegalNameLength} autoComplete="off" />
        <FieldErrorList id="invite-legal-name-errors" messages={errors.legalName ?? []} />
      </div>
      <div className="field">
        <label htmlFor="invite-email">Email</label>
        <input id="invite-email" name="email" type="email" required maxLength={maximumEmailLength} autoComplete="off" />
        <FieldErrorList id="invite-email-errors" messages={errors.email ?? []} />
      </div>
      <div className="field">
        <label htmlFor="invite-role">Role</label>
        <select id="invite-role" name="role" defaultValue="support">
          <option value="support">Support</option>
          <option value="auditor">Auditor</option>
        </select>
        <FieldErrorList id="invite-role-errors" messages={errors.role ?? []} />
      </div>
      <button className="button" type="submit" disabled={pending}>
        {pending ? "Sending…" : "Send invitation"}
      </button>
    </form>
  );
}
