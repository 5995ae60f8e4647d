import type { NextRequest } from "next/server";
import { requireCustomer } from "@/lib/auth/session";
import { problemResponse } from "@/lib/http/problem";
import { historyCsvStream } from "@/lib/ledger/history-csv";
import { parseHistoryQuery } from "@/lib/validation/history";

export const dynamic = "force-dynamic";

/**
 * The customer's history as a CSV download, with the filters of the history page. The session and the
 * account's ownership are checked here and again in lib/ledger/history.ts (proxy.ts is never the only
 * guard); an account that is not the customer's is a 404, before any byte of CSV is sent.
 */
export async function GET(request: NextRequest): Promise<Response> {
  try {
    const actor = await requireCustomer();
    const query = parseHistoryQuery(request.nextUrl.searchParams);
    const body = await historyCsvStream(actor, query);
    const day = new Date().toISOString().slice(0, 10);
    return new Response(body, {
      status: 200,
      headers: {
        "content-type": "text/csv; charset=utf-8",
        "content-disposition": `attachment; filename="harbour-bank-history-${day}.csv"`,
        "cache-control": "no-store",
        "x-content-type-options": "nosniff",
      },
    });
  } catch (error) {
    return problemResponse(error);
  }
}
