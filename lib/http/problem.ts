import "server-only";
import { BankError, httpStatusOf } from "@/lib/errors";
import { logger } from "@/lib/logger";

const noStore = { "cache-control": "no-store" } as const;

/** JSON answers of the API are never cached: they carry a customer's data. */
export function jsonResponse(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { ...headers, "content-type": "application/json; charset=utf-8", ...noStore },
  });
}

/**
 * An RFC 9457 problem document for any error that reaches a route handler. Only the code and the user
 * message leave the server; internal causes are logged. `status` overrides the code's usual status where a
 * protocol fixes another one (a missing `Idempotency-Key` header is a 400, not a field error's 422).
 */
export function problemResponse(error: unknown, options: { status?: number; headers?: Record<string, string> } = {}): Response {
  const bankError = error instanceof BankError ? error : new BankError("internal", { cause: error });
  if (bankError.code === "internal" || bankError.code === "unavailable") {
    logger.error({ err: bankError, cause: bankError.cause }, "route handler failed");
  }
  const status = options.status ?? httpStatusOf[bankError.code];
  // forbidden is answered exactly like not_found, so an outsider cannot tell the two apart.
  const code = bankError.code === "forbidden" ? "not_found" : bankError.code;
  const body = {
    type: "about:blank",
    title: bankError.userMessage,
    status,
    code,
    ...(bankError.fieldErrors ? { errors: bankError.fieldErrors } : {}),
    // Facts the client needs to act (for example the payload hash a step-up confirms); never secrets or PII.
    ...(bankError.details ? { details: bankError.details } : {}),
  };
  return new Response(JSON.stringify(body), {
    status,
    headers: { ...options.headers, "content-type": "application/problem+json; charset=utf-8", ...noStore },
  });
}
