import { BankError } from "@/lib/errors";
import { problemResponse } from "@/lib/http/problem";
import { logger } from "@/lib/logger";

export const dynamic = "force-dynamic";

// Reports are small; anything larger is not a report and is refused unread.
const maximumReportBytes = 8_192;
const reportContentTypes = ["application/csp-report", "application/reports+json", "application/json"];

/** Keeps only the origin and path of a URL: query strings can carry tokens or personal data. */
function withoutQuery(value: unknown): string | null {
  if (typeof value !== "string" || value.length === 0) return null;
  try {
    const url = new URL(value);
    return `${url.origin}${url.pathname}`.slice(0, 512);
  } catch {
    // Not a URL: keywords such as "inline" or "eval" are what CSP reports carry for blocked inline code.
    return value.slice(0, 64);
  }
}

function field(record: unknown, ...names: string[]): unknown {
  if (typeof record !== "object" || record === null) return undefined;
  for (const name of names) {
    const value = (record as Record<string, unknown>)[name];
    if (value !== undefined) return value;
  }
  return undefined;
}

/**
 * Receives CSP violation reports (the legacy `report-uri` format and the Reporting API's) and logs them
 * without query strings. Rate-limited per IP by proxy.ts. Anything that is not a report gets a plain 4xx
 * problem that names no cause beyond its code.
 */
export async function POST(request: Request): Promise<Response> {
  const noContent = new Response(null, { status: 204, headers: { "cache-control": "no-store" } });
  const contentType = (request.headers.get("content-type") ?? "").split(";")[0]?.trim().toLowerCase() ?? "";
  if (!reportContentTypes.includes(contentType)) return problemResponse(new BankError("unsupported_media_type"));
  const declaredLength = Number(request.headers.get("content-length") ?? "0");
  if (declaredLength > maximumReportBytes) return problemResponse(new BankError("payload_too_large"));
  const text = await request.text();
  if (text.length > maximumReportBytes) return problemResponse(new BankError("payload_too_large"));
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return problemResponse(new BankError("invalid_input", { userMessage: "That is not a valid report." }));
  }
  const reports = Array.isArray(parsed) ? parsed.map((entry) => field(entry, "body")) : [field(parsed, "csp-report")];
  for (const report of reports.slice(0, 10)) {
    if (report === undefined) continue;
    logger.warn(
      {
        cspViolation: {
          directive: String(field(report, "effectiveDirective", "effective-directive", "violated-directive") ?? "").slice(0, 64),
          blocked: withoutQuery(field(report, "blockedURL", "blocked-uri")),
          document: withoutQuery(field(report, "documentURL", "document-uri")),
          disposition: String(field(report, "disposition") ?? "").slice(0, 16),
        },
      },
      "csp violation reported",
    );
  }
  return noContent;
}
