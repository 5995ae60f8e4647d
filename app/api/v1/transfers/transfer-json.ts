import "server-only";
import type { z } from "zod";
import { bankCurrency } from "@/lib/accounts/bank-currency";
import type { TransferDetails } from "@/lib/ledger/get-transfer";
import type { PostedTransfer } from "@/lib/ledger/post-transfer";
import { minorToDecimalString } from "@/lib/money";
import type { TransferRequest } from "@/lib/validation/transfer";
import type { createdTransferSchema, transferDetailsSchema } from "@/lib/validation/transfer-api";

/**
 * The JSON bodies of the transfer routes, typed by the same zod schemas the OpenAPI document is generated
 * from, so that the document cannot describe a shape the handlers do not send.
 */

/**
 * The answer to a created (or replayed) transfer. It echoes the request rather than reading the transfer back:
 * a replay is accepted only for the identical request (its hash is compared), so the echo is exact, and the
 * write path stays at one database round trip.
 */
export function createdTransferJson(
  posted: PostedTransfer,
  request: TransferRequest,
): z.input<typeof createdTransferSchema> {
  return {
    transfer: {
      id: posted.transferId,
      status: posted.status,
      fromAccountId: request.fromAccountId,
      to: request.to,
      amountMinor: request.amountMinor.toString(),
      amount: minorToDecimalString(request.amountMinor, bankCurrency),
      currency: bankCurrency,
      memo: request.memo,
    },
  };
}

export function transferDetailsJson(details: TransferDetails): z.input<typeof transferDetailsSchema> {
  return {
    transfer: {
      ...details,
      amountMinor: details.amountMinor.toString(),
      amount: minorToDecimalString(details.amountMinor, details.currency),
      createdAt: details.createdAt.toISOString(),
      postedAt: details.postedAt === null ? null : details.postedAt.toISOString(),
    },
  };
}
