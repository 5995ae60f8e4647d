import { BankError } from "@/lib/errors";
import { problemResponse } from "@/lib/http/problem";

/**
 * Every API path that no more specific route claims. Next prefers static and narrower dynamic segments, so
 * `api/auth/[...nextauth]`, `api/v1/accounts` and `api/health` are untouched; everything else under /api gets
 * the same 404 problem document whatever the method, instead of the HTML not-found page or framework text
 * that would tell a prober which framework answers and which paths exist.
 */
export const dynamic = "force-dynamic";

function notFound(): Response {
  return problemResponse(new BankError("not_found", { internalMessage: "unknown API route" }));
}

export function GET(): Response {
  return notFound();
}

// HEAD is declared on its own so that Next does not derive it from GET; its answer carries no body.
export function HEAD(): Response {
  const response = notFound();
  return new Response(null, { status: response.status, headers: response.headers });
}

export const POST = GET;
export const PUT = GET;
export const PATCH = GET;
export const DELETE = GET;
// Declared so that Next's automatic OPTIONS answer (204 with an Allow header) does not reveal the path.
export const OPTIONS = GET;
