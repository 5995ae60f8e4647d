import type { NextRequest } from "next/server";
import { z } from "zod";
import { requireCustomer } from "@/lib/auth/session";
import { BankError } from "@/lib/errors";
import { jsonResponse, problemResponse } from "@/lib/http/problem";
import { listAccountHistory, type HistoryEntry } from "@/lib/ledger/history";
import { minorToDecimalString } from "@/lib/money";
import {
  accountTransactionsQuerySchema,
  type accountTransactionSchema,
  type accountTransactionsResponseSchema,
  parseWithFieldErrors,
  searchParamsToQueryInput,
} from "@/lib/validation/history";

export const dynamic = "force-dynamic";

/** One entry as JSON: amounts as strings of minor units (JSON numbers lose bigint precision) and as decimals. */
function entryJson(entry: HistoryEntry): z.input<typeof accountTransactionSchema> {
  return {
    id: entry.id,
    postedAt: entry.postedAt.toISOString(),
    direction: entry.direction,
    amountMinor: entry.amountMinor.toString(),
    amount: minorToDecimalString(entry.amountMinor, entry.currency),
    balanceAfterMinor: entry.balanceAfterMinor.toString(),
    balanceAfter: minorToDecimalString(entry.balanceAfterMinor, entry.currency),
    currency: entry.currency,
    counterparty: entry.counterparty,
    memo: entry.memo,
    transferId: entry.transferId,
    transferKind: entry.transferKind,
    transferStatus: entry.transferStatus,
  };
}

/**
 * One page of an account's transactions, newest first, with the history page's filters as query parameters
 * and `cursor` for the next page. Another customer's account (or a malformed id) is a 404, exactly like an
 * account that does not exist.
 */
export async function GET(request: NextRequest, context: { params: Promise<{ accountId: string }> }): Promise<Response> {
  try {
    const actor = await requireCustomer();
    const { accountId } = await context.params;
    if (!z.uuid().safeParse(accountId).success) throw new BankError("not_found");
    const query = parseWithFieldErrors(accountTransactionsQuerySchema, searchParamsToQueryInput(request.nextUrl.searchParams));
    const page = await listAccountHistory(actor, { ...query, accountId });
    const body: z.input<typeof accountTransactionsResponseSchema> = {
      transactions: page.entries.map(entryJson),
      nextCursor: page.nextCursor,
      searchStoppedEarly: page.searchStoppedEarly,
    };
    return jsonResponse(body);
  } catch (error) {
    return problemResponse(error);
  }
}
