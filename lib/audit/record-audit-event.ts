import "server-only";
import type { Queryable } from "@/db/client";
import { auditEvents } from "@/db/schema";

export interface AuditEvent {
  /** Who acted: a user id, or null for an anonymous or failed attempt and for the system itself. */
  actorId: string | null;
  actorRole: string | null;
  /** Dotted verb such as `auth.sign_in.succeeded`. */
  action: string;
  targetType?: string;
  targetId?: string;
  ipAddress?: string | null;
  userAgent?: string | null;
  /** Facts about the event. Never PII, secrets or free text a customer typed. */
  details?: Record<string, string | number | boolean | null>;
}

// User agents are attacker-controlled; a bounded length keeps one request from bloating the trail.
const maximumUserAgentLength = 512;

/**
 * Writes one audit event through the caller's transaction, so that the event commits if and only if the
 * change it records commits. The table is append-only (a trigger refuses UPDATE and DELETE); the
 * data-protection work later links events into a tamper-evident hash chain behind this same function.
 */
export async function recordAuditEvent(queryable: Queryable, event: AuditEvent): Promise<void> {
  await queryable.insert(auditEvents).values({
    actorId: event.actorId,
    actorRole: event.actorRole,
    action: event.action,
    targetType: event.targetType ?? null,
    targetId: event.targetId ?? null,
    ipAddress: event.ipAddress ?? null,
    userAgent: event.userAgent ? event.userAgent.slice(0, maximumUserAgentLength) : null,
    details: event.details ?? {},
  });
}
