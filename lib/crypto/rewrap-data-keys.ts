import "server-only";
import { database } from "@/db/client";
import { recordAuditEvent } from "@/lib/audit/record-audit-event";
import type { Pkcs11KeyProvider } from "@/lib/crypto/pkcs11-provider";

export const keyEncryptionKeyRotatedAction = "crypto.key_encryption_key.rotated";

/**
 * The re-wrapping step of a key-encryption key rotation (`npm run hsm:rotate-kek`), recorded in the audit
 * trail: `provider` is configured with the new key's label, and every data key wrapped by another one is
 * re-wrapped under it inside the token. A run that re-wraps nothing (the confirming second run) records
 * nothing. The event is written after the re-wrap, not in its transaction (the provider writes through its
 * own data-key store); a failure in between leaves the keys re-wrapped, which is harmless, and is reported.
 */
export async function rewrapDataKeysUnderNewKey(provider: Pkcs11KeyProvider, keyEncryptionKeyLabel: string): Promise<number> {
  const rewrapped = await provider.rewrapDataKeys();
  if (rewrapped > 0) {
    await recordAuditEvent(database(), {
      actorId: null,
      actorRole: "system",
      action: keyEncryptionKeyRotatedAction,
      targetType: "key_encryption_key",
      targetId: keyEncryptionKeyLabel,
      details: { rewrappedDataKeys: rewrapped },
    });
  }
  return rewrapped;
}
