import "server-only";
import { sql } from "drizzle-orm";
import { database } from "@/db/client";
import { recordAuditEvent } from "@/lib/audit/record-audit-event";
import { rotateDataKey } from "@/lib/crypto";
import type { DataKeyPurpose } from "@/lib/crypto/key-provider";
import { dataKeyRotatedAction } from "@/lib/crypto/reencryption";

export interface RotatedDataKey {
  readonly purpose: DataKeyPurpose;
  readonly version: number;
}

/**
 * Rotates each purpose's data key through the configured provider and records every rotation in the audit
 * trail. The audit event is more than a record: its time is how `keys:reencrypt` knows how long ago the
 * newest rotation was, and so whether running instances may still be writing the previous version.
 *
 * The database is touched before any key is rotated, so that an unreachable database (or an embedded one
 * held open by the running app) stops the command before it changes keys it could not record. A failure
 * after a rotation (the audit insert) is reported with the versions already made; the keys stay rotated,
 * which is harmless: a new version only adds a key.
 */
export async function rotateDataKeys(purposes: readonly DataKeyPurpose[]): Promise<RotatedDataKey[]> {
  const db = database();
  await db.execute(sql`select 1`);
  const rotated: RotatedDataKey[] = [];
  for (const purpose of purposes) {
    const version = await rotateDataKey(purpose);
    rotated.push({ purpose, version });
    await recordAuditEvent(db, {
      actorId: null,
      actorRole: "system",
      action: dataKeyRotatedAction,
      targetType: "data_key",
      targetId: purpose,
      details: { purpose, version },
    });
  }
  return rotated;
}
