import { openApiDocument } from "@/lib/http/openapi";

export const dynamic = "force-dynamic";

/** The public OpenAPI 3.1 document of this API (it describes, and reveals, no customer data). */
export function GET(): Response {
  return new Response(JSON.stringify(openApiDocument(), null, 2), {
    headers: { "content-type": "application/json; charset=utf-8", "cache-control": "public, max-age=300" },
  });
}
