import "server-only";
import { sql } from "drizzle-orm";
import type { Queryable } from "@/db/client";

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
 * change it records commits. The table is append-only (a trigger refuses UPDATE and DELETE); the sealer
 * (seal-audit-events.ts) links committed events into the tamper-evident hash chain seconds later, so writers
 * never wait on a chain head.
 *
 * The statement records the writer's transaction id, and it must assign that id BEFORE the identity column
 * draws the event's sequence value: the sealer treats every sequence up to the value it read as final once
 * every transaction that was running when it read it has ended, and a transaction that had drawn a value
 * without yet having an id would be invisible to that wait (it would get an id later, newer than the
 * sealer's snapshot) and could commit behind the chain head. PostgreSQL assigns a transaction id lazily, at
 * its first write or at `pg_current_xact_id()`. The MATERIALIZED CTE is evaluated before the INSERT's
 * projection computes the identity value for the row it produces, so the id exists first, in the same single
 * round trip. The database refuses an event without a writer transaction (drizzle/0010's check).
 */
export async function recordAuditEvent(queryable: Queryable, event: AuditEvent): Promise<void> {
  const userAgent = event.userAgent ? event.userAgent.slice(0, maximumUserAgentLength) : null;
  await queryable.execute(sql`
    WITH writer AS MATERIALIZED (SELECT pg_current_xact_id() AS writer_transaction)
    INSERT INTO audit_events
      (writer_transaction, actor_id, actor_role, action, target_type, target_id, ip_address, user_agent, details)
    SELECT writer.writer_transaction, ${event.actorId}::uuid, ${event.actorRole}, ${event.action},
           ${event.targetType ?? null}, ${event.targetId ?? null}, ${event.ipAddress ?? null}, ${userAgent},
           ${JSON.stringify(event.details ?? {})}::jsonb
      FROM writer`);
}
