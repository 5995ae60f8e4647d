import { confirmStepUp } from "@/app/(bank)/step-up-actions";
import { listPendingMfaResets } from "@/lib/admin/mfa-reset/list-pending-mfa-resets";
import { requireStaffPageActor, staffPageMetadata } from "@/lib/admin/staff-page";
import { approveMfaResetAction, cancelMfaResetAction, requestMfaResetAction } from "./actions";
import { MfaResetRequestForm } from "./mfa-reset-request-form";
import { PendingMfaResetControls } from "./pending-mfa-reset-controls";

export const generateMetadata = staffPageMetadata("Second-factor resets", "mfa_reset.request");

const dateFormat = new Intl.DateTimeFormat("en-GB", { dateStyle: "medium", timeStyle: "short", timeZone: "UTC" });

/**
 * Lost authenticators: the pending reset requests (approve needs a different staff member than the requester,
 * and a code), and a form to request one. Approving removes the customer's authenticator and emails them a
 * single-use link to enrol a new one.
 */
export default async function MfaResetsPage() {
  const actor = await requireStaffPageActor("mfa_reset.request");
  const pending = await listPendingMfaResets(actor);
  return (
    <>
      <div className="card">
        <h1>Second-factor resets</h1>
        <p className="muted">
          A reset needs two staff members: one requests it, a different one approves it. The customer is then
          emailed a single-use link to set up a new authenticator; they cannot sign in until they do.
        </p>
        {pending.length === 0 ? (
          <p className="muted" data-testid="mfa-resets-empty">
            No resets are waiting for approval.
          </p>
        ) : (
          <table data-testid="pending-mfa-resets">
            <thead>
              <tr>
                <th scope="col">Requested</th>
                <th scope="col">Customer</th>
                <th scope="col">Requested by</th>
                <th scope="col">Reason</th>
                <th scope="col">Decision</th>
              </tr>
            </thead>
            <tbody>
              {pending.map((request) => (
                <tr key={request.requestId} data-request-id={request.requestId}>
                  <td>{dateFormat.format(request.requestedAt)} UTC</td>
                  <td>
                    <code>{request.customerId}</code>
                  </td>
                  <td>{request.requestedByViewer ? "You" : request.requestedByName}</td>
                  <td className="mfa-reset-reason">{request.reason}</td>
                  <td>
                    <PendingMfaResetControls
                      requestId={request.requestId}
                      mayApprove={request.viewerMayApprove}
                      mayCancel={request.viewerMayCancel}
                      approveAction={approveMfaResetAction}
                      cancelAction={cancelMfaResetAction}
                      confirmStepUp={confirmStepUp}
                    />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </div>
      <div className="card">
        <h2>Request a reset</h2>
        <MfaResetRequestForm requestAction={requestMfaResetAction} confirmStepUp={confirmStepUp} />
      </div>
    </>
  );
}
