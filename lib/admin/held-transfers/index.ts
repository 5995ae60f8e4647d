import "server-only";

/** The back office's held-transfer review: the queue, one transfer with its reviews, and the decisions. */
export {
  countHeldTransfers,
  listHeldTransfers,
  readHeldTransfer,
  type HeldTransferDetail,
  type HeldTransferQueuePage,
  type HeldTransferSummary,
  type TransferReviewView,
} from "@/lib/admin/held-transfers/read-held-transfers";
export {
  approveHeldTransfer,
  commentOnHeldTransfer,
  rejectHeldTransfer,
  type ApprovalOutcome,
} from "@/lib/admin/held-transfers/review-held-transfers";
