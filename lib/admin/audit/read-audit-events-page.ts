import "server-only";
import { and, asc, desc, eq, gt, gte, lt, sql, type SQL } from "drizzle-orm";
import { database } from "@/db/client";
import { auditChainLinks, auditEvents } from "@/db/schema";
import type { AuditTrailCursor, AuditTrailFilters } from "@/lib/validation/audit-trail";

/** One audit event as the back office shows it. Never the row itself. */
export interface AuditEventView {
  /** The event's position in the trail, as decimal text (a bigint). */
  sequence: string;
  occurredAt: Date;
  actorId: string | null;
  actorRole: string | null;
  action: string;
  targetType: string | null;
  targetId: string | null;
  ipAddress: string | null;
  userAgent: string | null;
  /** The event's facts as text, key by key (at most `maximumDetailEntries`, each value shortened). */
  details: Record<string, string>;
  /** Whether the sealer has linked the event into the hash chain yet. */
  sealed: boolean;
}

export interface AuditEventsPage {
  events: AuditEventView[];
  /** Where the next older page starts, or null when nothing older matches. */
  olderCursor: AuditTrailCursor | null;
  /** Where the next newer page starts, or null when this page holds the newest matching events. */
  newerCursor: AuditTrailCursor | null;
}

// Details are written small by recordAuditEvent's callers; these bounds keep a page small whatever was written.
const maximumDetailEntries = 20;
const maximumDetailValueLength = 200;

function detailsAsText(details: Record<string, string | number | boolean | null>): Record<string, string> {
  const entries = Object.entries(details).slice(0, maximumDetailEntries);
  return Object.fromEntries(
    entries.map(([key, value]) => [key, (value === null ? "" : String(value)).slice(0, maximumDetailValueLength)]),
  );
}

function filterConditions(filters: AuditTrailFilters): SQL[] {
  const conditions: SQL[] = [];
  if (filters.actorId !== undefined) conditions.push(eq(auditEvents.actorId, filters.actorId));
  if (filters.action !== undefined) {
    // A prefix compares the action's first characters instead of LIKE, whose `_` would be a wildcard.
    conditions.push(
      filters.actionIsPrefix
        ? sql`left(${auditEvents.action}, ${filters.action.length}) = ${filters.action}`
        : eq(auditEvents.action, filters.action),
    );
  }
  if (filters.targetType !== undefined) conditions.push(eq(auditEvents.targetType, filters.targetType));
  if (filters.targetId !== undefined) conditions.push(eq(auditEvents.targetId, filters.targetId));
  if (filters.occurredFrom !== undefined) conditions.push(gte(auditEvents.occurredAt, filters.occurredFrom));
  if (filters.occurredBefore !== undefined) conditions.push(lt(auditEvents.occurredAt, filters.occurredBefore));
  return conditions;
}

/**
 * One page of audit events matching the filters, newest first, with keyset pagination on the event sequence:
 * a page older than a cursor reads `sequence < cursor` newest first, a page newer than it reads
 * `sequence > cursor` oldest first and is turned around, so neither direction skips or repeats an event however
 * many events are written meanwhile. One extra row tells whether more lie in the direction of travel; in the
 * other direction there is more exactly when the page was reached through a cursor.
 *
 * Unsafe: it checks no permission. Only the guarded functions of lib/admin/audit call it, each after
 * requireStaffPermission with its own permission (reading and exporting are separate permissions).
 */
export async function unsafeReadAuditEventsPage(
  filters: AuditTrailFilters,
  cursor: AuditTrailCursor | undefined,
  pageSize: number,
): Promise<AuditEventsPage> {
  const conditions = filterConditions(filters);
  const towardsNewer = cursor?.direction === "newer";
  if (cursor !== undefined) {
    conditions.push(towardsNewer ? gt(auditEvents.sequence, cursor.sequence) : lt(auditEvents.sequence, cursor.sequence));
  }
  const rows = await database()
    .select({
      sequence: auditEvents.sequence,
      occurredAt: auditEvents.occurredAt,
      actorId: auditEvents.actorId,
      actorRole: auditEvents.actorRole,
      action: auditEvents.action,
      targetType: auditEvents.targetType,
      targetId: auditEvents.targetId,
      ipAddress: auditEvents.ipAddress,
      userAgent: auditEvents.userAgent,
      details: auditEvents.details,
      sealed: sql<boolean>`${auditChainLinks.sequence} IS NOT NULL`,
    })
    .from(auditEvents)
    .leftJoin(auditChainLinks, eq(auditChainLinks.sequence, auditEvents.sequence))
    .where(and(...conditions))
    .orderBy(towardsNewer ? asc(auditEvents.sequence) : desc(auditEvents.sequence))
    .limit(pageSize + 1);

  const moreInDirection = rows.length > pageSize;
  const pageRows = rows.slice(0, pageSize);
  if (towardsNewer) pageRows.reverse();
  const events: AuditEventView[] = pageRows.map((row) => ({
    sequence: row.sequence.toString(),
    occurredAt: row.occurredAt,
    actorId: row.actorId,
    actorRole: row.actorRole,
    action: row.action,
    targetType: row.targetType,
    targetId: row.targetId,
    ipAddress: row.ipAddress,
    userAgent: row.userAgent,
    details: detailsAsText(row.details),
    sealed: row.sealed,
  }));
  const newest = pageRows[0];
  const oldest = pageRows[pageRows.length - 1];
  const hasOlder = towardsNewer ? cursor !== undefined : moreInDirection;
  const hasNewer = towardsNewer ? moreInDirection : cursor !== undefined;
  return {
    events,
    olderCursor: hasOlder && oldest ? { direction: "older", sequence: oldest.sequence } : null,
    newerCursor: hasNewer && newest ? { direction: "newer", sequence: newest.sequence } : null,
  };
}
