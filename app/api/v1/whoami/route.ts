import { requireCustomer } from "@/lib/auth/session";
import { jsonResponse, problemResponse } from "@/lib/http/problem";

export const dynamic = "force-dynamic";

/**
 * The signed-in customer's id and nothing else. Deliberately exactly as expensive as the session check every
 * API route makes: the ledger benchmark measures the transfer route against this one (the framework's floor).
 */
export async function GET(): Promise<Response> {
  try {
    const actor = await requireCustomer();
    return jsonResponse({ userId: actor.userId });
  } catch (error) {
    return problemResponse(error);
  }
}
