import "server-only";
/**
 * Reading and writing the `data_keys` table (db/schema.ts) for the PKCS#11 key provider. Only wrapped keys
 * pass through here; wrapping and unwrapping happen in the token (pkcs11-token.ts).
 *
 * Which connection: callers of the field cipher often encrypt inside their own database transaction. The
 * provider must never read its keys through that transaction (a rollback would not undo the keys the
 * provider believes exist) nor wait for a connection that such transactions hold:
 * - on PostgreSQL the store opens its own single connection (`openDatabase` with one connection), so loading
 *   or refreshing keys never competes with the application's pool, even when every pooled connection is held
 *   by a transaction that is waiting for a key;
 * - the embedded PGlite has exactly one connection and cannot be opened twice, so the store shares the
 *   application's handle, and the provider loads all keys at start-up (instrumentation.ts) and does not
 *   re-read them later (see `sharesConnectionWithCallers`). Only one process can open a PGlite folder, so no
 *   other process can rotate keys behind its back.
 */
import { and, desc, eq } from "drizzle-orm";
import { databaseHandle, openDatabase, type Database, type DatabaseHandle } from "@/db/client";
import { dataKeys } from "@/db/schema";
import { isUniqueViolation } from "@/lib/database-errors";
import { env } from "@/lib/env";
import { blindIndexPurposes, dataKeyPurposes, type BlindIndexPurpose } from "@/lib/crypto/key-provider";

/**
 * Every purpose with a row in data_keys: the data-key purposes as they are, the blind-index purposes behind a
 * prefix, so that a future data-key purpose named like a blind-index purpose ("email") cannot share its key.
 */
export type StoredKeyPurpose = (typeof dataKeyPurposes)[number] | `blind-index:${BlindIndexPurpose}`;

export function blindIndexStoragePurpose(purpose: BlindIndexPurpose): StoredKeyPurpose {
  return `blind-index:${purpose}`;
}

export const storedKeyPurposes: readonly StoredKeyPurpose[] = [
  ...dataKeyPurposes,
  ...blindIndexPurposes.map(blindIndexStoragePurpose),
];

export interface StoredDataKey {
  readonly purpose: string;
  readonly version: number;
  readonly wrappedKey: string;
  readonly wrappingKeyLabel: string;
}

export interface DataKeyStore {
  /** True when the store uses the application's only connection (PGlite): no reads after start-up. */
  readonly sharesConnectionWithCallers: boolean;
  readAll(): Promise<StoredDataKey[]>;
  /** Inserts version 1 unless a row for (purpose, 1) exists; a concurrent starter's row then wins. */
  insertFirstVersion(row: StoredDataKey): Promise<void>;
  /**
   * In one transaction: finds the highest version of `purpose`, asks `wrap` for the row of the next version
   * and inserts it. Returns the new version. Two concurrent rotations of one purpose cannot both succeed
   * with the same number: the primary key refuses the second, which is retried with the next number.
   */
  insertNextVersion(purpose: string, wrap: (version: number) => StoredDataKey): Promise<number>;
  /**
   * Replaces the wrapping of one row (a key-encryption key rotation), only if the row still holds `previous`'s
   * wrapping, so that two concurrent re-wraps cannot overwrite each other. True when the row was changed.
   */
  replaceWrapping(previous: StoredDataKey, replacement: StoredDataKey): Promise<boolean>;
  close(): Promise<void>;
}

export function createDataKeyStore(handle: DatabaseHandle, ownsHandle: boolean): DataKeyStore {
  const db: Database = handle.db;
  return {
    sharesConnectionWithCallers: handle.kind === "pglite",

    async readAll() {
      return db
        .select({
          purpose: dataKeys.purpose,
          version: dataKeys.version,
          wrappedKey: dataKeys.wrappedKey,
          wrappingKeyLabel: dataKeys.wrappingKeyLabel,
        })
        .from(dataKeys)
        .orderBy(dataKeys.purpose, dataKeys.version);
    },

    async insertFirstVersion(row) {
      if (row.version !== 1) throw new Error("insertFirstVersion inserts version 1 only");
      await db.insert(dataKeys).values(row).onConflictDoNothing();
    },

    async insertNextVersion(purpose, wrap) {
      const attempts = 3;
      for (let attempt = 1; ; attempt += 1) {
        try {
          return await db.transaction(async (transaction) => {
            const [highest] = await transaction
              .select({ version: dataKeys.version })
              .from(dataKeys)
              .where(eq(dataKeys.purpose, purpose))
              .orderBy(desc(dataKeys.version))
              .limit(1);
            const version = (highest?.version ?? 0) + 1;
            const row = wrap(version);
            if (row.purpose !== purpose || row.version !== version) throw new Error("wrapped row does not match");
            await transaction.insert(dataKeys).values(row);
            // Read back inside the transaction: the row that commits is the one just written.
            const [written] = await transaction
              .select({ version: dataKeys.version })
              .from(dataKeys)
              .where(and(eq(dataKeys.purpose, purpose), eq(dataKeys.version, version)));
            if (written === undefined) throw new Error("new data key version was not written");
            return version;
          });
        } catch (error) {
          if (attempt < attempts && isUniqueViolation(error)) continue;
          throw error;
        }
      }
    },

    async replaceWrapping(previous, replacement) {
      if (previous.purpose !== replacement.purpose || previous.version !== replacement.version) {
        throw new Error("a re-wrap must keep the purpose and version");
      }
      const changed = await db
        .update(dataKeys)
        .set({ wrappedKey: replacement.wrappedKey, wrappingKeyLabel: replacement.wrappingKeyLabel })
        .where(
          and(
            eq(dataKeys.purpose, previous.purpose),
            eq(dataKeys.version, previous.version),
            eq(dataKeys.wrappedKey, previous.wrappedKey),
          ),
        )
        .returning({ version: dataKeys.version });
      return changed.length === 1;
    },

    async close() {
      if (ownsHandle) await handle.close();
    },
  };
}

/** The store for the configured database, with its own connection on PostgreSQL (see the module comment). */
export function configuredDataKeyStore(): DataKeyStore {
  const configuration = env();
  if (configuration.databaseUrl) {
    const handle = openDatabase({
      databaseUrl: configuration.databaseUrl,
      pgliteDirectory: configuration.pgliteDirectory,
      maxConnections: 1,
      // The provider reads data_keys at start-up and then at most every KEY_REFRESH_SECONDS: an idle connection
      // in between would only hold a server slot, and would keep a script's process from exiting.
      idleTimeoutSeconds: 2,
    });
    return createDataKeyStore(handle, true);
  }
  return createDataKeyStore(databaseHandle(), false);
}
