import { requireCustomer } from "@/lib/auth/session";
import { BankError } from "@/lib/errors";
import { jsonResponse, problemResponse } from "@/lib/http/problem";
import { readJsonBody } from "@/lib/http/read-json-body";
import { requireSameOriginWrite } from "@/lib/http/require-same-origin";
import { enforcePerUserLimit } from "@/lib/security/rate-limit/per-user";
import { postCustomerTransfer } from "@/lib/ledger/post-transfer";
import type { TransferRequest } from "@/lib/validation/transfer";
import { idempotencyKeyField } from "@/lib/validation/transfer";
import { transferApiBodySchema } from "@/lib/validation/transfer-api";
import { createdTransferJson } from "./transfer-json";

export const dynamic = "force-dynamic";

/** A transfer request is a few hundred bytes; nothing legitimate comes near this. */
const maximumBodyBytes = 4_096;

/**
 * The `Idempotency-Key` header, checked with the same rule as the form's hidden key. A missing or malformed
 * key is a 400 (the IETF Idempotency-Key draft): without one, a retried request could move money twice.
 */
function idempotencyKeyOf(request: Request): { key: string } | { refusal: Response } {
  const parsed = idempotencyKeyField.safeParse(request.headers.get("idempotency-key") ?? undefined);
  if (parsed.success) return { key: parsed.data };
  const error = new BankError("invalid_input", {
    userMessage: "Send an Idempotency-Key header: 8 to 128 letters, digits, '-' or '_', new for each transfer.",
    fieldErrors: { "Idempotency-Key": parsed.error.issues.map((issue) => issue.message) },
  });
  return { refusal: problemResponse(error, { status: 400 }) };
}

/**
 * Creates a transfer from one of the caller's accounts to another of theirs or to one of their payees, through
 * the same service function as the server action. 201 when posted, 202 when held for review; a replay of the
 * key answers with the original transfer and `Idempotent-Replayed: true`.
 */
export async function POST(request: Request): Promise<Response> {
  try {
    requireSameOriginWrite(request);
    const actor = await requireCustomer();
    // The same per-user budget as the server actions: an API client is not a way around it.
    await enforcePerUserLimit("userActions", actor.userId);
    const idempotency = idempotencyKeyOf(request);
    if ("refusal" in idempotency) return idempotency.refusal;
    const body = await readJsonBody(request, transferApiBodySchema, { maxBytes: maximumBodyBytes });
    const transferRequest: TransferRequest = {
      fromAccountId: body.fromAccountId,
      to: body.to,
      amountMinor: body.amount,
      memo: body.memo,
      idempotencyKey: idempotency.key,
    };
    const posted = await postCustomerTransfer(actor, transferRequest);
    const headers: Record<string, string> = { location: `/api/v1/transfers/${posted.transferId}` };
    if (posted.replayed) headers["idempotent-replayed"] = "true";
    return jsonResponse(createdTransferJson(posted, transferRequest), posted.status === "held" ? 202 : 201, headers);
  } catch (error) {
    return problemResponse(error);
  }
}
