import Link from "next/link";
import { notFound } from "next/navigation";
import { confirmStepUp } from "@/app/(bank)/step-up-actions";
import { readHeldTransfer } from "@/lib/admin/held-transfers";
import { roleHasPermission } from "@/lib/admin/permissions";
import { requireStaffPageActor, staffPageMetadata } from "@/lib/admin/staff-page";
import { BankError } from "@/lib/errors";
import { formatMinor } from "@/lib/money";
import { approveHeldTransferAction, commentOnHeldTransferAction, rejectHeldTransferAction } from "../actions";
import { describeAge, describeHoldReason } from "../describe";
import { ApproveForm, CommentForm, RejectForm } from "./review-forms";

export const generateMetadata = staffPageMetadata("Held transfer", "transfers.read_held");

const reviewKinds = { comment: "Comment", approval: "Approval", rejection: "Rejection" } as const;
const statuses = { held: "Waiting for review", posted: "Approved and posted", rejected: "Rejected, hold released", reversed: "Posted, later reversed" } as const;

const timeFormat = new Intl.DateTimeFormat("en-GB", { dateStyle: "medium", timeStyle: "short", timeZone: "UTC" });

export default async function HeldTransferPage({ params }: { params: Promise<{ transferId: string }> }) {
  const actor = await requireStaffPageActor("transfers.read_held");
  const { transferId } = await params;
  const transfer = await readHeldTransfer(actor, transferId).catch((error: unknown) => {
    // An id that is not a held transfer (or not an id at all) is a page that does not exist.
    if (error instanceof BankError && error.code === "not_found") notFound();
    throw error;
  });
  const waiting = transfer.status === "held";
  const youReviewedFirst = transfer.firstReviewerId === actor.userId;
  const youApproved = transfer.reviews.some((review) => review.kind === "approval" && review.byYou);
  const mayApprove = waiting && roleHasPermission(actor.role, "transfers.approve") && transfer.firstReviewerId !== null && !youReviewedFirst && !youApproved;

  return (
    <>
      <p>
        <Link href="/admin/transfers">All held transfers</Link>
      </p>
      <div className="card">
        <h1>Held transfer</h1>
        <dl className="profile-details" data-testid="held-transfer">
          <dt>Status</dt>
          <dd>{statuses[transfer.status]}</dd>
          <dt>Amount</dt>
          <dd>{formatMinor(transfer.amountMinor, transfer.currency)}</dd>
          <dt>Reason held</dt>
          <dd>{describeHoldReason(transfer.holdReason)}</dd>
          <dt>From</dt>
          <dd>{transfer.fromAccount}</dd>
          <dt>To</dt>
          <dd>{transfer.toAccount}</dd>
          <dt>Held since</dt>
          <dd>
            {timeFormat.format(transfer.heldSince)} UTC{waiting ? ` (${describeAge(transfer.ageSeconds)} ago)` : ""}
          </dd>
          <dt>Approvals</dt>
          <dd>
            {transfer.approvals} of {transfer.approvalsNeeded}
            {transfer.needsSecondApprover ? " (above the threshold: two different approvers)" : ""}
          </dd>
          {transfer.decisionReason && !waiting ? (
            <>
              <dt>Decision note</dt>
              <dd>{transfer.decisionReason}</dd>
            </>
          ) : null}
        </dl>
      </div>

      <div className="card">
        <h2>Reviews</h2>
        {transfer.reviews.length === 0 ? (
          <p className="muted">Nobody has reviewed this transfer yet. The first reviewer may comment or reject, but not approve.</p>
        ) : (
          <ol className="held-transfer-reviews" data-testid="reviews">
            {transfer.reviews.map((review, index) => (
              <li key={review.id}>
                <strong>{reviewKinds[review.kind]}</strong>{" "}
                <span className="muted">
                  by {review.byYou ? "you" : `a staff member (${review.staffRole}, ${review.staffUserId.slice(0, 8)})`},{" "}
                  {timeFormat.format(review.createdAt)} UTC{index === 0 ? " — first reviewer" : ""}
                </span>
                {review.note ? <p>{review.note}</p> : null}
              </li>
            ))}
          </ol>
        )}
      </div>

      {waiting ? (
        <div className="card held-transfer-actions">
          <h2>Decide</h2>
          {roleHasPermission(actor.role, "transfers.comment") ? (
            <CommentForm transferId={transfer.transferId} comment={commentOnHeldTransferAction} />
          ) : null}
          {roleHasPermission(actor.role, "transfers.approve") ? (
            mayApprove ? (
              <ApproveForm transferId={transfer.transferId} approve={approveHeldTransferAction} confirmStepUp={confirmStepUp} />
            ) : (
              <p className="muted" data-testid="approve-unavailable">
                {transfer.firstReviewerId === null
                  ? "Someone must review (comment on) this transfer before anyone else can approve it."
                  : youReviewedFirst
                    ? "You reviewed this transfer first, so a different staff member must approve it (four eyes)."
                    : "You have approved this transfer; a different staff member must give the second approval."}
              </p>
            )
          ) : null}
          {roleHasPermission(actor.role, "transfers.reject") ? (
            <RejectForm transferId={transfer.transferId} reject={rejectHeldTransferAction} />
          ) : null}
        </div>
      ) : null}
    </>
  );
}
