import "server-only";
import { database } from "@/db/client";
import { unsafeReadAuditEventsPage, type AuditEventView, type AuditEventsPage } from "@/lib/admin/audit/read-audit-events-page";
import { requireStaffPermission } from "@/lib/admin/staff-guard";
import { recordAuditEvent } from "@/lib/audit/record-audit-event";
import type { Actor } from "@/lib/auth/actor";
import { csvLine } from "@/lib/csv";
import { logger } from "@/lib/logger";
import { enforcePerUserLimit } from "@/lib/security/rate-limit/per-user";
import type { AuditTrailFilters } from "@/lib/validation/audit-trail";

export const auditEventsCsvHeader = [
  "Sequence",
  "Time (UTC)",
  "Actor ID",
  "Actor role",
  "Action",
  "Target type",
  "Target ID",
  "IP address",
  "User agent",
  "Details",
  "Sealed",
] as const;

// Large pages for the export: fewer round trips, still a bounded amount in memory at a time.
const exportPageSize = 500;

/** One event as CSV cells. Details are `key=value` pairs joined by `; `, in the order they were written. */
export function auditEventCsvCells(event: AuditEventView): string[] {
  return [
    event.sequence,
    event.occurredAt.toISOString(),
    event.actorId ?? "",
    event.actorRole ?? "",
    event.action,
    event.targetType ?? "",
    event.targetId ?? "",
    event.ipAddress ?? "",
    event.userAgent ?? "",
    Object.entries(event.details)
      .map(([key, value]) => `${key}=${value}`)
      .join("; "),
    event.sealed ? "yes" : "no",
  ];
}

/**
 * The filtered audit trail as a CSV stream, newest first, read page by page through the page's keyset query
 * (never the whole trail in memory; a slow client holds back the reads). Every cell goes through lib/csv.ts,
 * which neutralises formula-looking cells: user agents, target ids and details are written by whoever made
 * the request that was audited, so an attacker can plant `=HYPERLINK(...)` in a user agent for an auditor's
 * spreadsheet.
 *
 * The permission is checked and the first page read before the stream is built, so a refusal is a 404 answer
 * and not a broken download. An export is a bulk extraction, so it counts against the staff member's hourly
 * export limit (the same per-user limit as customers' history exports) and is itself audited, with the
 * filters it used.
 */
export async function auditEventsCsvStream(
  actor: Actor | null | undefined,
  filters: AuditTrailFilters,
): Promise<ReadableStream<Uint8Array>> {
  const staff = requireStaffPermission(actor, "audit.export");
  await enforcePerUserLimit("historyExports", staff.userId, "You have exported many times this hour. Try again later.");
  const firstPage = await unsafeReadAuditEventsPage(filters, undefined, exportPageSize);
  await recordAuditEvent(database(), {
    actorId: staff.userId,
    actorRole: staff.role,
    action: "staff.audit.exported",
    ipAddress: staff.ipAddress,
    userAgent: staff.userAgent,
    details: {
      format: "csv",
      actorFilter: filters.actorId ?? null,
      actionFilter: filters.action ?? null,
      targetTypeFilter: filters.targetType ?? null,
      targetIdFilter: filters.targetId ?? null,
      from: filters.occurredFrom?.toISOString() ?? null,
      to: filters.occurredBefore?.toISOString() ?? null,
    },
  });

  const encoder = new TextEncoder();
  let pending: AuditEventsPage | null = firstPage;
  let headerWritten = false;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (!headerWritten) {
        headerWritten = true;
        controller.enqueue(encoder.encode(csvLine(auditEventsCsvHeader)));
        return;
      }
      const page = pending;
      pending = null;
      if (page === null || page.events.length === 0) {
        controller.close();
        return;
      }
      if (page.olderCursor !== null) {
        try {
          pending = await unsafeReadAuditEventsPage(filters, page.olderCursor, exportPageSize);
        } catch (error) {
          // The response has started: end the download as failed (never a short file that looks complete).
          logger.error({ err: error }, "audit trail export failed while streaming");
          controller.error(error);
          return;
        }
      }
      controller.enqueue(encoder.encode(page.events.map((event) => csvLine(auditEventCsvCells(event))).join("")));
    },
  });
}
