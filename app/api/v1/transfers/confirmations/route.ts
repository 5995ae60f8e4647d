import { requireCustomer } from "@/lib/auth/session";
import { confirmStepUp } from "@/lib/auth/step-up";
import { problemResponse } from "@/lib/http/problem";
import { readJsonBody } from "@/lib/http/read-json-body";
import { requireSameOriginWrite } from "@/lib/http/require-same-origin";
import { enforcePerUserLimit } from "@/lib/security/rate-limit/per-user";
import { transferConfirmationPayloadHash } from "@/lib/ledger/post-transfer";
import { transferConfirmationApiBodySchema } from "@/lib/validation/transfer-api";

export const dynamic = "force-dynamic";

const maximumBodyBytes = 4_096;

/**
 * Confirms one transfer with a second factor (PSD2 dynamic linking). The client sends the code and the exact
 * transfer request, idempotency key included; the hash the confirmation is bound to is computed here from that
 * request, never taken from the client, so a confirmation can only ever cover the transfer that was shown.
 * Afterwards the client repeats `POST /api/v1/transfers` with the same request and key. 204 on success.
 */
export async function POST(request: Request): Promise<Response> {
  try {
    requireSameOriginWrite(request);
    const actor = await requireCustomer();
    // The same per-user budget as the server actions: an API client is not a way around it.
    await enforcePerUserLimit("userActions", actor.userId);
    const body = await readJsonBody(request, transferConfirmationApiBodySchema, { maxBytes: maximumBodyBytes });
    await confirmStepUp(actor, body.code, transferConfirmationPayloadHash(body.transfer));
    return new Response(null, { status: 204, headers: { "cache-control": "no-store" } });
  } catch (error) {
    return problemResponse(error);
  }
}
