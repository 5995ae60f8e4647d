import type { NextRequest } from "next/server";
import { auditEventsCsvStream } from "@/lib/admin/audit/audit-events-csv";
import { requireStaffPermission } from "@/lib/admin/staff-guard";
import { resolveActor } from "@/lib/auth/session";
import { problemResponse } from "@/lib/http/problem";
import { parseAuditTrailQuery } from "@/lib/validation/audit-trail";

export const dynamic = "force-dynamic";

/**
 * The audit trail as a CSV download, with the filters of /admin/audit. A route handler gets no layout, so it
 * checks the permission itself, first, before it parses anything: everyone who may not export (signed out,
 * customers, support) gets the same 404 problem document as any unknown API path (app/api/[...path]), never a
 * sign-in prompt that would reveal the route. lib/admin/audit checks the permission again.
 */
function csvHeaders(): Record<string, string> {
  const moment = new Date().toISOString().slice(0, 19).replaceAll(":", "-");
  return {
    "content-type": "text/csv; charset=utf-8",
    "content-disposition": `attachment; filename="harbour-bank-audit-trail-${moment}.csv"`,
    "cache-control": "no-store",
    "x-content-type-options": "nosniff",
  };
}

export async function GET(request: NextRequest): Promise<Response> {
  try {
    const actor = await resolveActor();
    requireStaffPermission(actor, "audit.export");
    // The page's cursor is ignored: an export always runs from the newest matching event to the oldest.
    const { filters } = parseAuditTrailQuery(request.nextUrl.searchParams);
    const body = await auditEventsCsvStream(actor, filters);
    return new Response(body, { status: 200, headers: csvHeaders() });
  } catch (error) {
    return problemResponse(error);
  }
}

/**
 * HEAD checks the same permission as GET and answers with GET's headers but runs no export and writes no
 * event (Next would otherwise derive HEAD from GET, which would stream the whole trail to nobody). Everyone who
 * may not export gets the same 404 as from GET.
 */
export async function HEAD(): Promise<Response> {
  try {
    requireStaffPermission(await resolveActor(), "audit.export");
    return new Response(null, { status: 200, headers: csvHeaders() });
  } catch (error) {
    const response = problemResponse(error);
    return new Response(null, { status: response.status, headers: response.headers });
  }
}
