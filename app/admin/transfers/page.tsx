import Link from "next/link";
import { listHeldTransfers } from "@/lib/admin/held-transfers";
import { requireStaffPageActor, staffPageMetadata } from "@/lib/admin/staff-page";
import { formatMinor } from "@/lib/money";
import { describeAge, describeHoldReason } from "./describe";

export const generateMetadata = staffPageMetadata("Held transfers", "transfers.read_held");


export default async function HeldTransfersPage({ searchParams }: { searchParams: Promise<{ after?: string | string[] }> }) {
  const actor = await requireStaffPageActor("transfers.read_held");
  const { after } = await searchParams;
  const page = await listHeldTransfers(actor, typeof after === "string" ? after : undefined);
  return (
    <div className="card">
      <h1>Held transfers</h1>
      <p className="muted">
        Oldest first. Every approval must come from someone other than the first reviewer; large transfers need two
        different approvers.
      </p>
      {page.transfers.length === 0 ? (
        <p className="muted" data-testid="held-transfers-empty">
          No transfers are waiting for review.
        </p>
      ) : (
        <table data-testid="held-transfers">
          <thead>
            <tr>
              <th scope="col">Waiting for</th>
              <th scope="col">Amount</th>
              <th scope="col">Reason</th>
              <th scope="col">From</th>
              <th scope="col">To</th>
              <th scope="col">Approvals</th>
              <th scope="col">
                <span className="visually-hidden">Review</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {page.transfers.map((transfer) => (
              <tr key={transfer.transferId} data-testid="held-transfer-row">
                <td>{describeAge(transfer.ageSeconds)}</td>
                <td className="amount">{formatMinor(transfer.amountMinor, transfer.currency)}</td>
                <td>{describeHoldReason(transfer.holdReason)}</td>
                <td>{transfer.fromAccount}</td>
                <td>{transfer.toAccount}</td>
                <td>
                  {transfer.approvals} of {transfer.approvalsNeeded}
                  {transfer.needsSecondApprover ? <span className="muted"> (two approvers)</span> : null}
                </td>
                <td>
                  <Link href={`/admin/transfers/${transfer.transferId}`}>Review</Link>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {page.nextCursor ? (
        <p>
          <Link href={`/admin/transfers?after=${page.nextCursor}`}>Newer held transfers</Link>
        </p>
      ) : null}
    </div>
  );
}
