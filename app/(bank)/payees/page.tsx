import type { Metadata } from "next";
import { confirmStepUp } from "@/app/(bank)/step-up-actions";
import { requireActorOrRedirect } from "@/lib/auth/session";
import { listMyPayees } from "@/lib/payees/list-my-payees";
import { addPayee, checkPayee, deletePayee } from "./actions";
import { AddPayeeForm } from "./add-payee-form";
import { RemovePayeeButton } from "./remove-payee-button";

export const metadata: Metadata = { title: "Payees" };

const matchLabels = {
  exact_match: "Name matched",
  close_match: "Name was a close match",
  no_match: "Name did not match",
} as const;

export default async function PayeesPage() {
  // Layouts and pages render independently, so the page checks the session itself too.
  const actor = await requireActorOrRedirect();
  if (actor.kind !== "customer") {
    return (
      <div className="card">
        <h1>Payees</h1>
        <p className="muted">Staff accounts have no payees.</p>
      </div>
    );
  }
  const payees = await listMyPayees(actor);
  return (
    <>
      <div className="card">
        <h1>Payees</h1>
        {payees.length === 0 ? (
          <p className="muted">You have no payees yet.</p>
        ) : (
          <table data-testid="payees">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Account number</th>
                <th scope="col">Confirmation of payee</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {payees.map((payee) => (
                <tr key={payee.id} data-testid="payee-row">
                  <td>{payee.name}</td>
                  <td>{payee.accountNumber}</td>
                  <td>{matchLabels[payee.matchResult]}</td>
                  <td>
                    <RemovePayeeButton payeeId={payee.id} payeeName={payee.name} deletePayee={deletePayee} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </div>
      <div className="card">
        <h2>Add a payee</h2>
        <AddPayeeForm checkPayee={checkPayee} addPayee={addPayee} confirmStepUp={confirmStepUp} />
      </div>
    </>
  );
}
