import "server-only";
import { sql } from "drizzle-orm";
import { executeRows, type Queryable } from "@/db/client";
import { setAuditSealingLag } from "@/lib/metrics/registry";

export interface AuditSealingLag {
  /** Committed audit events after the chain head, i.e. not yet linked into the hash chain. */
  unsealedEvents: number;
  /** How long ago the oldest of them happened; 0 when every event is sealed. */
  oldestUnsealedAgeSeconds: number;
}

/**
 * Measures how far the audit sealer is behind the writers, and publishes it as the sealer-lag gauges. A
 * growing lag means events wait longer before tampering with them becomes detectable (README, Audit trail),
 * so it is worth an alert well before it is worth a page.
 *
 * One range scan of the events' primary key from the head's sequence: as cheap as the lag is small, which it
 * is while the sealer keeps up; the head is the link with the highest chain position (its unique index).
 */
export async function measureAuditSealingLag(db: Queryable): Promise<AuditSealingLag> {
  const [row] = await executeRows<{ unsealed: string; age: string | null }>(
    db,
    sql`SELECT count(*)::text AS unsealed,
               extract(epoch FROM (now() - min(event.occurred_at)))::text AS age
          FROM audit_events AS event
         WHERE event.sequence > coalesce(
                 (SELECT link.sequence FROM audit_chain_links AS link ORDER BY link.chain_position DESC LIMIT 1), 0)`,
  );
  const lag: AuditSealingLag = {
    unsealedEvents: Number(row?.unsealed ?? "0"),
    // A clock step can make the oldest event look as if it lay in the future; a lag is never negative.
    oldestUnsealedAgeSeconds: row?.age === null || row?.age === undefined ? 0 : Math.max(0, Number(row.age)),
  };
  setAuditSealingLag(lag.unsealedEvents, lag.oldestUnsealedAgeSeconds);
  return lag;
}
