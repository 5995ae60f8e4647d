ALTER TABLE "users" ADD COLUMN "phone_ciphertext" text;--> statement-breakpoint
ALTER TABLE "users" ADD COLUMN "postal_address_ciphertext" text;--> statement-breakpoint
ALTER TABLE "users" ADD COLUMN "national_identifier_ciphertext" text;--> statement-breakpoint
ALTER TABLE "users" ADD CONSTRAINT "users_profile_only_for_customers" CHECK (("users"."phone_ciphertext" is null and "users"."postal_address_ciphertext" is null and "users"."national_identifier_ciphertext" is null) or "users"."role" = 'customer');