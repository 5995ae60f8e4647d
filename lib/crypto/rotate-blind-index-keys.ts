import "server-only";
import { and, desc, eq, sql } from "drizzle-orm";
import { database, type Queryable } from "@/db/client";
import { auditEvents } from "@/db/schema";
import { recordAuditEvent } from "@/lib/audit/record-audit-event";
import { rotateBlindIndexKey } from "@/lib/crypto";
import type { BlindIndexPurpose } from "@/lib/crypto/key-provider";

/**
 * The audit action of a blind-index key rotation. Its time is also how `keys:reindex` knows whether running
 * instances may still be writing indexes under the previous version (see `secondsSinceNewestBlindIndexRotation`).
 */
export const blindIndexKeyRotatedAction = "keys.rotated";
/** The audit target type of blind-index key events; the target id is the purpose ("email"). */
export const blindIndexKeyTargetType = "blind_index_key";

export interface RotatedBlindIndexKey {
  readonly purpose: BlindIndexPurpose;
  readonly version: number;
}

/**
 * Rotates the blind-index key of each purpose through the configured provider and records every rotation in
 * the audit trail (purpose and version only, never key material).
 *
 * As with data keys (rotate-data-keys.ts), the database is touched before any key changes, so that an
 * unreachable or locked database stops the command before it makes a version it could not record. A new
 * version only adds a key, and look-ups try every live version, so a failure after the rotation is harmless.
 */
export async function rotateBlindIndexKeys(purposes: readonly BlindIndexPurpose[]): Promise<RotatedBlindIndexKey[]> {
  const db = database();
  await db.execute(sql`select 1`);
  const rotated: RotatedBlindIndexKey[] = [];
  for (const purpose of purposes) {
    const version = await rotateBlindIndexKey(purpose);
    rotated.push({ purpose, version });
    await recordAuditEvent(db, {
      actorId: null,
      actorRole: "system",
      action: blindIndexKeyRotatedAction,
      targetType: blindIndexKeyTargetType,
      targetId: purpose,
      details: { purpose: `blind-index:${purpose}`, version },
    });
  }
  return rotated;
}

/**
 * Seconds since the newest rotation of this purpose's blind-index key recorded in the audit trail, by the
 * database's clock (the one that stamped it), or null if none was recorded.
 */
export async function secondsSinceNewestBlindIndexRotation(
  queryable: Queryable,
  purpose: BlindIndexPurpose,
): Promise<number | null> {
  const [newest] = await queryable
    .select({ secondsAgo: sql<string>`extract(epoch from (now() - ${auditEvents.occurredAt}))::text` })
    .from(auditEvents)
    .where(
      and(
        eq(auditEvents.action, blindIndexKeyRotatedAction),
        eq(auditEvents.targetType, blindIndexKeyTargetType),
        eq(auditEvents.targetId, purpose),
      ),
    )
    .orderBy(desc(auditEvents.sequence))
    .limit(1);
  return newest === undefined ? null : Number(newest.secondsAgo);
}
