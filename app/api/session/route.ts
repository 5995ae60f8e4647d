import { resolveSessionWithoutActivity, sessionStatusOf } from "@/lib/auth/session";
import { BankError } from "@/lib/errors";
import { jsonResponse, problemResponse } from "@/lib/http/problem";

export const dynamic = "force-dynamic";

/**
 * When the current session ends, for the timeout dialog's poll: `{ idleExpiresAt, absoluteExpiresAt,
 * warningSeconds, now }`, or 401 when there is no valid session. Reading it is not activity: it neither moves
 * the session's `last_seen_at` nor (in proxy.ts) renews the cookie, so a page left open cannot keep itself
 * signed in by asking. Answers are never cached (jsonResponse sends `Cache-Control: no-store`).
 */
export async function GET(): Promise<Response> {
  try {
    const resolved = await resolveSessionWithoutActivity();
    if (!resolved) throw new BankError("unauthenticated");
    return jsonResponse(sessionStatusOf(resolved.session));
  } catch (error) {
    return problemResponse(error);
  }
}
