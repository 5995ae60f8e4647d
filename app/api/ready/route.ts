import { jsonResponse } from "@/lib/http/problem";
import { checkReadiness } from "@/lib/health/readiness";

export const dynamic = "force-dynamic";

export async function GET(): Promise<Response> {
  const readiness = await checkReadiness();
  return readiness.ready
    ? jsonResponse({ status: "ready" })
    : jsonResponse({ status: "unavailable", failing: readiness.failing }, 503);
}
