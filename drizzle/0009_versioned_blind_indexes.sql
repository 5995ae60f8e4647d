-- Blind indexes name the key version they were computed with (`v<version>:<hex>`, lib/crypto/field-cipher.ts),
-- so that blind-index keys can rotate: look-ups try every live version while `keys:reindex` recomputes the
-- columns. Every index written before this migration was computed with the only key there was, which the
-- keyrings and data_keys now call version 1; the values keep their HMAC and gain the prefix. The pattern
-- leaves an already prefixed value alone, so running this on a partly migrated copy cannot double a prefix.
UPDATE "users" SET "email_blind_index" = 'v1:' || "email_blind_index"
WHERE "email_blind_index" ~ '^[0-9a-f]{64}$';
--> statement-breakpoint
UPDATE "user_tokens" SET "new_email_blind_index" = 'v1:' || "new_email_blind_index"
WHERE "new_email_blind_index" ~ '^[0-9a-f]{64}$';
