import { jsonResponse } from "@/lib/http/problem";
import { isDatabaseAnswering } from "@/lib/health/check-database";

export const dynamic = "force-dynamic";

export async function GET(): Promise<Response> {
  return (await isDatabaseAnswering())
    ? jsonResponse({ status: "ok" })
    : jsonResponse({ status: "unavailable" }, 503);
}
