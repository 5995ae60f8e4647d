import "server-only";
import { unsafeReadAuditEventsPage, type AuditEventsPage } from "@/lib/admin/audit/read-audit-events-page";
import { requireStaffPermission } from "@/lib/admin/staff-guard";
import type { Actor } from "@/lib/auth/actor";
import { auditTrailPageSize, type AuditTrailCursor, type AuditTrailFilters } from "@/lib/validation/audit-trail";

export type { AuditEventView, AuditEventsPage } from "@/lib/admin/audit/read-audit-events-page";

/**
 * One page (50 events) of the audit trail for the back office, newest first, narrowed by the filters
 * (lib/validation/audit-trail.ts parses them from the page's query string with field errors). Reading the trail
 * is a read: it writes no audit event of its own, or every look at the trail would grow it.
 */
export async function listAuditEvents(
  actor: Actor | null | undefined,
  filters: AuditTrailFilters,
  cursor?: AuditTrailCursor,
): Promise<AuditEventsPage> {
  requireStaffPermission(actor, "audit.read");
  return unsafeReadAuditEventsPage(filters, cursor, auditTrailPageSize);
}
