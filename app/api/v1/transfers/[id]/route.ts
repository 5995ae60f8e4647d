import { requireCustomer } from "@/lib/auth/session";
import { jsonResponse, problemResponse } from "@/lib/http/problem";
import { getMyTransfer } from "@/lib/ledger/get-transfer";
import { transferDetailsJson } from "../transfer-json";

export const dynamic = "force-dynamic";

/** One of the caller's transfers; any other id (someone else's, unknown, not a uuid) is a 404. */
export async function GET(_request: Request, context: { params: Promise<{ id: string }> }): Promise<Response> {
  try {
    const actor = await requireCustomer();
    const { id } = await context.params;
    return jsonResponse(transferDetailsJson(await getMyTransfer(actor, id)));
  } catch (error) {
    return problemResponse(error);
  }
}
