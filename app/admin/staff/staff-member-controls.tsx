"use client";

import { startTransition, useActionState, useState } from "react";
import { isStepUpRequired, StepUpPrompt } from "@/app/components/step-up-prompt";
import type { ActionResult } from "@/lib/action";
import type { StaffRole } from "@/lib/auth/actor";

type FormAction<Result> = (previous: ActionResult<Result> | null, input: Record<string, unknown>) => Promise<ActionResult<Result>>;
type ConfirmStepUpAction = (previous: ActionResult<null> | null, input: FormData) => Promise<ActionResult<null>>;
type RoleChange = { outcome: "role_changed"; oldRole: StaffRole; newRole: StaffRole } | { outcome: "grant_requested"; requestId: string };

interface StaffMemberControlsProps {
  staffId: string;
  name: string;
  role: StaffRole;
  changeRole: FormAction<RoleChange>;
  removeAccess: FormAction<null>;
  confirmStepUp: ConfirmStepUpAction;
}

const roleLabels: Record<StaffRole, string> = { admin: "Admin", support: "Support", auditor: "Auditor" };

/**
 * Role change and access removal for one staff member, each behind a step-up bound to exactly that change
 * (lib/auth/step-up-operations.ts): the prompt asks for a code, then the same input is sent again.
 */
export function StaffMemberControls({ staffId, name, role, changeRole, removeAccess, confirmStepUp }: StaffMemberControlsProps) {
  const [newRole, setNewRole] = useState<StaffRole>(role === "support" ? "auditor" : "support");
  const [changeResult, dispatchChange, changing] = useActionState(changeRole, null);
  const [removeResult, dispatchRemove, removing] = useActionState(removeAccess, null);
  const changeInput = { staffId, role: newRole };
  const removeInput = { staffId };
  const submitChange = () => startTransition(() => dispatchChange(changeInput));
  const submitRemove = () => startTransition(() => dispatchRemove(removeInput));
  const otherRoles = (["support", "auditor", "admin"] as const).filter((candidate) => candidate !== role);
  return (
    <div className="staff-controls">
      <div className="staff-controls-row">
        <label className="visually-hidden" htmlFor={`role-${staffId}`}>
          New role for {name}
        </label>
        <select id={`role-${staffId}`} value={newRole} onChange={(event) => setNewRole(event.target.value as StaffRole)}>
          {otherRoles.map((candidate) => (
            <option key={candidate} value={candidate}>
              {candidate === "admin" ? "Admin (needs a second admin)" : roleLabels[candidate]}
            </option>
          ))}
        </select>
        <button className="button secondary" type="button" onClick={submitChange} disabled={changing}>
          {changing ? "Changing…" : "Change role"}
        </button>
        <button className="button secondary" type="button" onClick={submitRemove} disabled={removing} aria-label={`Remove access of ${name}`}>
          {removing ? "Removing…" : "Remove access"}
        </button>
      </div>
      <StepUpPrompt
        result={changeResult}
        operation="staff_change_role"
        operationInput={changeInput}
        confirmStepUp={confirmStepUp}
        onConfirmed={submitChange}
        purpose={`changing the role of ${name}`}
      />
      <StepUpPrompt
        result={removeResult}
        operation="staff_remove_access"
        operationInput={removeInput}
        confirmStepUp={confirmStepUp}
        onConfirmed={submitRemove}
        purpose={`removing the access of ${name}`}
      />
      <div role="status" className="status-region">
        {changeResult?.ok ? (
          <p className="notice">
            {changeResult.data.outcome === "grant_requested"
              ? "Request filed: another admin must approve it."
              : `Role changed to ${changeResult.data.newRole}.`}
          </p>
        ) : null}
        {removeResult?.ok ? <p className="notice">Access removed.</p> : null}
      </div>
      {[changeResult, removeResult].map((result, index) =>
        result && !result.ok && !isStepUpRequired(result) ? (
          <p key={index} className="alert" role="alert">
            {result.message}
          </p>
        ) : null,
      )}
    </div>
  );
}
