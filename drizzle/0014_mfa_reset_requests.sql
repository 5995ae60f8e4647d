CREATE TYPE "public"."mfa_reset_status" AS ENUM('pending', 'approved', 'cancelled', 'completed');--> statement-breakpoint
ALTER TYPE "public"."user_token_purpose" ADD VALUE 'mfa_reenrolment';--> statement-breakpoint
CREATE TABLE "mfa_reset_requests" (
	"id" uuid PRIMARY KEY NOT NULL,
	"customer_id" uuid NOT NULL,
	"requested_by" uuid NOT NULL,
	"reason_ciphertext" text NOT NULL,
	"status" "mfa_reset_status" DEFAULT 'pending' NOT NULL,
	"approved_by" uuid,
	"cancelled_by" uuid,
	"reenrolment_token_id" uuid,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"decided_at" timestamp with time zone,
	"completed_at" timestamp with time zone,
	CONSTRAINT "mfa_reset_requests_four_eyes" CHECK ("mfa_reset_requests"."approved_by" is null or "mfa_reset_requests"."approved_by" <> "mfa_reset_requests"."requested_by"),
	CONSTRAINT "mfa_reset_requests_approval_complete" CHECK (("mfa_reset_requests"."status" in ('approved', 'completed')) = ("mfa_reset_requests"."approved_by" is not null)),
	CONSTRAINT "mfa_reset_requests_decision_complete" CHECK (("mfa_reset_requests"."status" = 'pending') = ("mfa_reset_requests"."decided_at" is null))
);
--> statement-breakpoint
ALTER TABLE "users" ADD COLUMN "mfa_reenrolment_required_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "mfa_reset_requests" ADD CONSTRAINT "mfa_reset_requests_customer_id_users_id_fk" FOREIGN KEY ("customer_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "mfa_reset_requests" ADD CONSTRAINT "mfa_reset_requests_requested_by_users_id_fk" FOREIGN KEY ("requested_by") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "mfa_reset_requests" ADD CONSTRAINT "mfa_reset_requests_approved_by_users_id_fk" FOREIGN KEY ("approved_by") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "mfa_reset_requests" ADD CONSTRAINT "mfa_reset_requests_cancelled_by_users_id_fk" FOREIGN KEY ("cancelled_by") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "mfa_reset_requests" ADD CONSTRAINT "mfa_reset_requests_reenrolment_token_id_user_tokens_id_fk" FOREIGN KEY ("reenrolment_token_id") REFERENCES "public"."user_tokens"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "mfa_reset_requests_one_pending_per_customer" ON "mfa_reset_requests" USING btree ("customer_id") WHERE "mfa_reset_requests"."status" = 'pending';--> statement-breakpoint
CREATE INDEX "mfa_reset_requests_customer_id_index" ON "mfa_reset_requests" USING btree ("customer_id");--> statement-breakpoint
ALTER TABLE "users" ADD CONSTRAINT "users_mfa_reenrolment_without_authenticator" CHECK ("users"."mfa_reenrolment_required_at" is null or "users"."totp_secret_ciphertext" is null);