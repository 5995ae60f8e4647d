ALTER TABLE "users" ADD COLUMN "pending_totp_secret_ciphertext" text;--> statement-breakpoint
ALTER TABLE "users" ADD COLUMN "pending_totp_created_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "users" ADD CONSTRAINT "users_pending_totp_complete" CHECK (("users"."pending_totp_secret_ciphertext" is null) = ("users"."pending_totp_created_at" is null));