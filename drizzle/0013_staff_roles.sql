CREATE TYPE "public"."staff_role_request_status" AS ENUM('pending', 'approved', 'cancelled');--> statement-breakpoint
CREATE TABLE "staff_invitations" (
	"id" uuid PRIMARY KEY NOT NULL,
	"email_ciphertext" text NOT NULL,
	"legal_name_ciphertext" text NOT NULL,
	"role" "user_role" NOT NULL,
	"token_hash" text NOT NULL,
	"invited_by" uuid NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"used_at" timestamp with time zone,
	"accepted_user_id" uuid,
	"pending_totp_secret_ciphertext" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "staff_invitations_token_hash_unique" UNIQUE("token_hash"),
	CONSTRAINT "staff_invitations_role_not_admin" CHECK ("staff_invitations"."role" in ('support', 'auditor'))
);
--> statement-breakpoint
CREATE TABLE "staff_role_requests" (
	"id" uuid PRIMARY KEY NOT NULL,
	"target_user_id" uuid NOT NULL,
	"requested_role" "user_role" NOT NULL,
	"requested_by" uuid NOT NULL,
	"status" "staff_role_request_status" DEFAULT 'pending' NOT NULL,
	"decided_by" uuid,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"decided_at" timestamp with time zone,
	CONSTRAINT "staff_role_requests_only_admin" CHECK ("staff_role_requests"."requested_role" = 'admin'),
	CONSTRAINT "staff_role_requests_not_for_oneself" CHECK ("staff_role_requests"."requested_by" <> "staff_role_requests"."target_user_id"),
	CONSTRAINT "staff_role_requests_second_admin" CHECK ("staff_role_requests"."decided_by" is null or ("staff_role_requests"."decided_by" <> "staff_role_requests"."requested_by" and "staff_role_requests"."decided_by" <> "staff_role_requests"."target_user_id")),
	CONSTRAINT "staff_role_requests_decision_complete" CHECK (("staff_role_requests"."status" = 'pending') = ("staff_role_requests"."decided_at" is null) and ("staff_role_requests"."status" <> 'approved' or "staff_role_requests"."decided_by" is not null))
);
--> statement-breakpoint
ALTER TABLE "staff_invitations" ADD CONSTRAINT "staff_invitations_invited_by_users_id_fk" FOREIGN KEY ("invited_by") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "staff_invitations" ADD CONSTRAINT "staff_invitations_accepted_user_id_users_id_fk" FOREIGN KEY ("accepted_user_id") REFERENCES "public"."users"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "staff_role_requests" ADD CONSTRAINT "staff_role_requests_target_user_id_users_id_fk" FOREIGN KEY ("target_user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "staff_role_requests" ADD CONSTRAINT "staff_role_requests_requested_by_users_id_fk" FOREIGN KEY ("requested_by") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "staff_role_requests" ADD CONSTRAINT "staff_role_requests_decided_by_users_id_fk" FOREIGN KEY ("decided_by") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "staff_role_requests_one_pending_per_target" ON "staff_role_requests" USING btree ("target_user_id") WHERE "staff_role_requests"."status" = 'pending';