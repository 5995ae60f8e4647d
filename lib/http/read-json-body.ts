import "server-only";
import { z } from "zod";
import { BankError, type FieldErrors } from "@/lib/errors";

export interface ReadJsonBodyOptions {
  /** The largest body accepted, in bytes. 16 KiB is far above any form this bank posts. */
  maxBytes?: number;
}

/**
 * True for `application/json`, with or without parameters, in any letter case. A charset parameter other than
 * UTF-8 is refused: JSON on the web is UTF-8 (RFC 8259), and decoding anything else as UTF-8 would read a
 * different text from the one the client meant.
 */
function isJsonContentType(contentType: string | null): boolean {
  if (contentType === null) return false;
  const [mediaType = "", ...parameters] = contentType.split(";").map((part) => part.trim().toLowerCase());
  if (mediaType !== "application/json") return false;
  return parameters.every((parameter) => {
    const [name, value] = parameter.split("=").map((part) => part.trim());
    return name !== "charset" || value === "utf-8" || value === '"utf-8"';
  });
}

function tooLarge(internalMessage: string): BankError {
  return new BankError("payload_too_large", { internalMessage });
}

/**
 * Reads the body while counting, and stops at the first chunk past the limit. Content-Length is only a claim
 * (it may be absent with chunked encoding, or lie), so the count is what enforces the limit; the body is never
 * buffered beyond `maxBytes` plus one chunk.
 */
async function readLimitedBytes(body: ReadableStream<Uint8Array> | null, maxBytes: number): Promise<Uint8Array> {
  if (body === null) return new Uint8Array(0);
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      // Cancelling tells the sender to stop; the rest of the body is never read.
      await reader.cancel().catch(() => undefined);
      throw tooLarge(`request body exceeded ${maxBytes} bytes while reading`);
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}

function malformed(cause: unknown): BankError {
  // The parser's own message (positions, fragments of the body) stays in the cause, for the logs only.
  return new BankError("invalid_input", { userMessage: "The request body is not valid JSON.", cause });
}

/**
 * The one way for a route handler to read a JSON body: `application/json` only (415 otherwise), at most
 * `maxBytes` by Content-Length and by counting while reading (413), valid UTF-8 and JSON (422 with a plain
 * message), then the schema (422 with field errors). Throws BankError; `problemResponse` turns it into an
 * RFC 9457 answer.
 */
export async function readJsonBody<Schema extends z.ZodType>(
  request: Request,
  schema: Schema,
  { maxBytes = 16_384 }: ReadJsonBodyOptions = {},
): Promise<z.output<Schema>> {
  if (!isJsonContentType(request.headers.get("content-type"))) {
    throw new BankError("unsupported_media_type", { internalMessage: "request body is not application/json" });
  }
  const declaredLength = request.headers.get("content-length");
  if (declaredLength !== null && /^\d+$/.test(declaredLength.trim()) && Number(declaredLength) > maxBytes) {
    throw tooLarge(`declared Content-Length ${declaredLength} exceeds ${maxBytes} bytes`);
  }

  const bytes = await readLimitedBytes(request.body, maxBytes);
  let parsedJson: unknown;
  try {
    // `fatal` refuses invalid UTF-8 instead of replacing it with U+FFFD and parsing something else.
    parsedJson = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch (error) {
    throw malformed(error);
  }

  const result = schema.safeParse(parsedJson);
  if (!result.success) {
    const flattened = z.flattenError(result.error);
    const fieldErrors = flattened.fieldErrors as FieldErrors;
    const hasFieldErrors = Object.keys(fieldErrors).length > 0;
    throw new BankError("invalid_input", {
      // Errors about the body as a whole (not an object, unknown fields) have no field to highlight.
      ...(hasFieldErrors ? { fieldErrors } : { userMessage: flattened.formErrors[0] ?? "The request body is not what we expected." }),
      cause: result.error,
    });
  }
  return result.data;
}
