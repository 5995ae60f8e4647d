CREATE TYPE "public"."payee_match_result" AS ENUM('exact_match', 'close_match', 'no_match');--> statement-breakpoint
CREATE TYPE "public"."system_account_purpose" AS ENUM('funding', 'suspense', 'fees');--> statement-breakpoint
CREATE TABLE "customer_limits" (
	"user_id" uuid PRIMARY KEY NOT NULL,
	"limit_day" date NOT NULL,
	"sent_on_day_minor" bigint DEFAULT 0 NOT NULL,
	CONSTRAINT "customer_limits_sent_not_negative" CHECK ("customer_limits"."sent_on_day_minor" >= 0)
);
--> statement-breakpoint
CREATE TABLE "payees" (
	"id" uuid PRIMARY KEY NOT NULL,
	"owner_id" uuid NOT NULL,
	"account_id" uuid NOT NULL,
	"name_ciphertext" text NOT NULL,
	"match_result" "payee_match_result" NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"removed_at" timestamp with time zone
);
--> statement-breakpoint
ALTER TABLE "accounts" ADD COLUMN "system_purpose" "system_account_purpose";--> statement-breakpoint
ALTER TABLE "ledger_entries" ADD COLUMN "entry_sequence" bigint NOT NULL GENERATED ALWAYS AS IDENTITY (sequence name "ledger_entries_entry_sequence_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1);--> statement-breakpoint
ALTER TABLE "transfers" ADD COLUMN "request_hash" text;--> statement-breakpoint
ALTER TABLE "transfers" ADD COLUMN "payee_id" uuid;--> statement-breakpoint
ALTER TABLE "transfers" ADD COLUMN "memo_ciphertext" text;--> statement-breakpoint
ALTER TABLE "transfers" ADD COLUMN "hold_reason" text;--> statement-breakpoint
ALTER TABLE "transfers" ADD COLUMN "reverses_transfer_id" uuid;--> statement-breakpoint
ALTER TABLE "transfers" ADD COLUMN "decided_by" uuid;--> statement-breakpoint
ALTER TABLE "transfers" ADD COLUMN "decided_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "transfers" ADD COLUMN "decision_reason" text;--> statement-breakpoint
ALTER TABLE "transfers" ADD COLUMN "posted_at" timestamp with time zone;--> statement-breakpoint
-- Hand-written: existing rows meet the new checks before they are added. The one system account that earlier
-- seeds created is the funding account; transfers posted before this migration were posted when created.
UPDATE "accounts" SET "system_purpose" = 'funding' WHERE "kind" = 'system' AND "system_purpose" IS NULL;--> statement-breakpoint
UPDATE "transfers" SET "posted_at" = "created_at" WHERE "status" IN ('posted', 'reversed') AND "posted_at" IS NULL;--> statement-breakpoint
ALTER TABLE "customer_limits" ADD CONSTRAINT "customer_limits_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "payees" ADD CONSTRAINT "payees_owner_id_users_id_fk" FOREIGN KEY ("owner_id") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "payees" ADD CONSTRAINT "payees_account_id_accounts_id_fk" FOREIGN KEY ("account_id") REFERENCES "public"."accounts"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "payees_owner_id_index" ON "payees" USING btree ("owner_id");--> statement-breakpoint
CREATE UNIQUE INDEX "payees_owner_account_live_unique" ON "payees" USING btree ("owner_id","account_id") WHERE "payees"."removed_at" is null;--> statement-breakpoint
ALTER TABLE "transfers" ADD CONSTRAINT "transfers_payee_id_payees_id_fk" FOREIGN KEY ("payee_id") REFERENCES "public"."payees"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "transfers" ADD CONSTRAINT "transfers_decided_by_users_id_fk" FOREIGN KEY ("decided_by") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "transfers" ADD CONSTRAINT "transfers_reverses_transfer_id_fk" FOREIGN KEY ("reverses_transfer_id") REFERENCES "public"."transfers"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "accounts_system_purpose_currency_unique" ON "accounts" USING btree ("system_purpose","currency") WHERE "accounts"."system_purpose" is not null;--> statement-breakpoint
CREATE UNIQUE INDEX "ledger_entries_account_id_sequence_index" ON "ledger_entries" USING btree ("account_id","entry_sequence");--> statement-breakpoint
CREATE INDEX "transfers_debit_account_id_index" ON "transfers" USING btree ("debit_account_id","created_at");--> statement-breakpoint
CREATE INDEX "transfers_payee_id_index" ON "transfers" USING btree ("payee_id");--> statement-breakpoint
CREATE INDEX "transfers_status_index" ON "transfers" USING btree ("status") WHERE "transfers"."status" = 'held';--> statement-breakpoint
ALTER TABLE "transfers" ADD CONSTRAINT "transfers_reverses_transfer_id_unique" UNIQUE("reverses_transfer_id");--> statement-breakpoint
ALTER TABLE "accounts" ADD CONSTRAINT "accounts_system_purpose_iff_system" CHECK (("accounts"."kind" = 'system') = ("accounts"."system_purpose" is not null));--> statement-breakpoint
ALTER TABLE "transfers" ADD CONSTRAINT "transfers_key_has_request_hash" CHECK (("transfers"."idempotency_key" is null) = ("transfers"."request_hash" is null));--> statement-breakpoint
ALTER TABLE "transfers" ADD CONSTRAINT "transfers_reversal_points_at_original" CHECK (("transfers"."kind" = 'reversal') = ("transfers"."reverses_transfer_id" is not null));--> statement-breakpoint
ALTER TABLE "transfers" ADD CONSTRAINT "transfers_posted_has_time" CHECK (("transfers"."status" in ('posted', 'reversed')) = ("transfers"."posted_at" is not null));--> statement-breakpoint
ALTER TABLE "transfers" ADD CONSTRAINT "transfers_memo_length" CHECK ("transfers"."memo_ciphertext" is null or length("transfers"."memo_ciphertext") < 1024);