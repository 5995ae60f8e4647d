import "server-only";
import { database } from "@/db/client";
import type { CustomerActor } from "@/lib/auth/actor";
import { recordAuditEvent } from "@/lib/audit/record-audit-event";
import { csvLine } from "@/lib/csv";
import { assert } from "@/lib/errors";
import { listAccountHistory, type HistoryEntry, type HistoryPage } from "@/lib/ledger/history";
import { logger } from "@/lib/logger";
import { minorToDecimalString } from "@/lib/money";
import { enforcePerUserLimit } from "@/lib/security/rate-limit/per-user";
import { decodeHistoryCursor, historyPageSizeMaximum, type HistoryQuery } from "@/lib/validation/history";

export const historyCsvHeader = [
  "Date (UTC)",
  "Account",
  "Account number",
  "Direction",
  "Amount",
  "Currency",
  "Balance after",
  "Counterparty",
  "Reference",
  "Transfer ID",
  "Transfer kind",
  "Transfer status",
] as const;

/** One entry as CSV cells. The amount is unsigned (its sign is the direction column), see lib/csv.ts. */
export function historyCsvCells(entry: HistoryEntry): string[] {
  const unsignedAmountMinor = entry.amountMinor < 0n ? -entry.amountMinor : entry.amountMinor;
  return [
    entry.postedAt.toISOString(),
    entry.accountNickname,
    entry.accountNumber,
    entry.direction,
    minorToDecimalString(unsignedAmountMinor, entry.currency),
    entry.currency,
    minorToDecimalString(entry.balanceAfterMinor, entry.currency),
    entry.counterparty,
    entry.memo ?? "",
    entry.transferId,
    entry.transferKind,
    entry.transferStatus,
  ];
}

/**
 * The whole filtered history as a CSV stream, read page by page through the same keyset query as the page
 * (never the whole history in memory). The first page is read before the stream is built, so that a refusal
 * (an account that is not the customer's) becomes a 404 answer instead of a broken download. Each further
 * page is read only when the consumer pulls, so a slow client holds back the database reads.
 *
 * An export is the bulk extraction a hijacked session would make, so it is counted against the customer's own
 * hourly export limit and audited (which account, which kinds of filter; never the search text itself, which
 * may hold a name).
 */
export async function historyCsvStream(actor: CustomerActor, query: HistoryQuery): Promise<ReadableStream<Uint8Array>> {
  await enforcePerUserLimit("historyExports", actor.userId, "You have exported your history many times this hour. Try again later.");
  // The export ignores the page's cursor and size: it always starts at the newest entry and reads large pages.
  const exportQuery: HistoryQuery = { ...query, beforeSequence: undefined, pageSize: historyPageSizeMaximum };
  const firstPage = await listAccountHistory(actor, exportQuery);
  await recordAuditEvent(database(), {
    actorId: actor.userId,
    actorRole: actor.role,
    action: "history.exported",
    ...(query.accountId === undefined ? {} : { targetType: "account", targetId: query.accountId }),
    ipAddress: actor.ipAddress,
    userAgent: actor.userAgent,
    details: {
      format: "csv",
      dateRange: query.fromDate !== undefined || query.toDate !== undefined,
      amountRange: query.minimumAmountMinor !== undefined || query.maximumAmountMinor !== undefined,
      direction: query.direction ?? "both",
      textSearch: query.text !== undefined,
    },
  });
  const encoder = new TextEncoder();
  let pending: HistoryPage | null = firstPage;
  let headerWritten = false;

  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (!headerWritten) {
        headerWritten = true;
        controller.enqueue(encoder.encode(csvLine(historyCsvHeader)));
        return;
      }
      // A text search may answer empty pages with a cursor (its scan budget ran out): keep reading until a
      // page has lines or the history ends, so that the stream never enqueues nothing and stalls.
      while (pending !== null) {
        const page: HistoryPage = pending;
        pending = null;
        if (page.nextCursor !== null) {
          const beforeSequence = decodeHistoryCursor(page.nextCursor);
          assert(beforeSequence !== null, "history issued a cursor it cannot read back");
          try {
            pending = await listAccountHistory(actor, { ...exportQuery, beforeSequence });
          } catch (error) {
            // The response has started; all that can be done is to end the download as failed (the browser
            // reports an interrupted download, never a short file that looks complete) and log why.
            logger.error({ err: error }, "history export failed while streaming");
            controller.error(error);
            return;
          }
        }
        if (page.entries.length > 0) {
          controller.enqueue(encoder.encode(page.entries.map((entry) => csvLine(historyCsvCells(entry))).join("")));
          return;
        }
      }
      controller.close();
    },
  });
}
