CREATE TYPE "public"."transfer_review_kind" AS ENUM('comment', 'approval', 'rejection');--> statement-breakpoint
CREATE TABLE "transfer_reviews" (
	"id" uuid PRIMARY KEY NOT NULL,
	"transfer_id" uuid NOT NULL,
	"staff_user_id" uuid NOT NULL,
	"kind" "transfer_review_kind" NOT NULL,
	"note" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "transfer_reviews_note_length" CHECK ("transfer_reviews"."note" is null or length("transfer_reviews"."note") between 1 and 500),
	CONSTRAINT "transfer_reviews_note_present" CHECK ("transfer_reviews"."kind" = 'approval' or "transfer_reviews"."note" is not null)
);
--> statement-breakpoint
ALTER TABLE "transfer_reviews" ADD CONSTRAINT "transfer_reviews_transfer_id_transfers_id_fk" FOREIGN KEY ("transfer_id") REFERENCES "public"."transfers"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "transfer_reviews" ADD CONSTRAINT "transfer_reviews_staff_user_id_users_id_fk" FOREIGN KEY ("staff_user_id") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "transfer_reviews_transfer_id_index" ON "transfer_reviews" USING btree ("transfer_id","created_at");--> statement-breakpoint
-- hand-written:
-- A held transfer's reviews are history like the audit trail: nobody edits or deletes them.
CREATE TRIGGER transfer_reviews_append_only
  BEFORE UPDATE OR DELETE ON transfer_reviews
  FOR EACH ROW EXECUTE FUNCTION refuse_change_to_history();
--> statement-breakpoint
CREATE TRIGGER transfer_reviews_no_truncate
  BEFORE TRUNCATE ON transfer_reviews
  FOR EACH STATEMENT EXECUTE FUNCTION refuse_change_to_history();
