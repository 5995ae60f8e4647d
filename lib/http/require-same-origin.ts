import "server-only";
import { env } from "@/lib/env";
import { BankError } from "@/lib/errors";
import { isSameOriginRequest, isStateChangingMethod } from "@/lib/security/origin";

/**
 * The route handlers' own cross-site check, the same rule proxy.ts applies first: a write whose Origin is
 * missing or foreign, or whose Sec-Fetch-Site is cross-site, is refused with 403. Route handlers get no
 * check from Next (STACK-NOTES trap 12), and the proxy must never be the only guard (trap 13).
 */
export function requireSameOriginWrite(request: Request): void {
  if (isStateChangingMethod(request.method) && !isSameOriginRequest(request.headers, env().appOrigin)) {
    throw new BankError("cross_site_request", { internalMessage: `cross-site ${request.method} refused` });
  }
}
