import { requireSession, sessionStatusOf } from "@/lib/auth/session";
import { jsonResponse, problemResponse } from "@/lib/http/problem";
import { requireSameOriginWrite } from "@/lib/http/require-same-origin";

export const dynamic = "force-dynamic";

/**
 * The timeout dialog's "Stay signed in": a deliberate click, so it counts as activity. Resolving the session
 * moves `last_seen_at` forward (this is not a prefetch), proxy.ts renews the cookie, and the answer is the new
 * status. A POST from our own origin only: a cross-site page must not be able to keep a victim's session alive.
 */
export async function POST(request: Request): Promise<Response> {
  try {
    requireSameOriginWrite(request);
    const { session } = await requireSession();
    return jsonResponse(sessionStatusOf(session));
  } catch (error) {
    return problemResponse(error);
  }
}
