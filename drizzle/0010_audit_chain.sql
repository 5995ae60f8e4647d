CREATE TABLE "audit_chain_links" (
	"sequence" bigint PRIMARY KEY NOT NULL,
	"chain_position" bigint NOT NULL,
	"previous_hash" char(64) NOT NULL,
	"hash" char(64) NOT NULL,
	"sealed_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "audit_chain_links_position_positive" CHECK ("audit_chain_links"."chain_position" >= 1),
	CONSTRAINT "audit_chain_links_previous_hash_hex" CHECK ("audit_chain_links"."previous_hash" ~ '^[0-9a-f]{64}$'),
	CONSTRAINT "audit_chain_links_hash_hex" CHECK ("audit_chain_links"."hash" ~ '^[0-9a-f]{64}$')
);
--> statement-breakpoint
CREATE TABLE "audit_checkpoints" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "audit_checkpoints_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"chain_position" bigint NOT NULL,
	"hash" char(64) NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	"signature" char(64) NOT NULL,
	CONSTRAINT "audit_checkpoints_hash_hex" CHECK ("audit_checkpoints"."hash" ~ '^[0-9a-f]{64}$'),
	CONSTRAINT "audit_checkpoints_signature_hex" CHECK ("audit_checkpoints"."signature" ~ '^[0-9a-f]{64}$')
);
--> statement-breakpoint
ALTER TABLE "audit_events" ADD COLUMN "writer_transaction" "xid8";--> statement-breakpoint
CREATE UNIQUE INDEX "audit_chain_links_chain_position_index" ON "audit_chain_links" USING btree ("chain_position");--> statement-breakpoint
ALTER TABLE "audit_chain_links" ADD CONSTRAINT "audit_chain_links_sequence_audit_events_sequence_fk" FOREIGN KEY ("sequence") REFERENCES "public"."audit_events"("sequence") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "audit_checkpoints" ADD CONSTRAINT "audit_checkpoints_chain_position_audit_chain_links_chain_position_fk" FOREIGN KEY ("chain_position") REFERENCES "public"."audit_chain_links"("chain_position") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "audit_checkpoints_chain_position_index" ON "audit_checkpoints" USING btree ("chain_position");--> statement-breakpoint

-- Hand-written from here on (drizzle-kit generated the part above; the unique index on chain_position was
-- moved before the foreign key that needs it). Only SQL that PostgreSQL 15 accepts (PGlite is 18).

-- Every event written from now on names its writer's transaction (lib/audit/record-audit-event.ts and the
-- ledger's SQL functions take it before drawing the sequence value). NOT VALID: rows written before this
-- migration keep their null; the check applies to every new row, so a writer that forgets it fails loudly
-- instead of silently weakening the sealer's guarantee.
ALTER TABLE audit_events ADD CONSTRAINT audit_events_writer_transaction_recorded
  CHECK (writer_transaction IS NOT NULL) NOT VALID;
--> statement-breakpoint

-- The chain and its checkpoints are history like the events: nobody edits or deletes them.
CREATE TRIGGER audit_chain_links_append_only
  BEFORE UPDATE OR DELETE ON audit_chain_links
  FOR EACH ROW EXECUTE FUNCTION refuse_change_to_history();
--> statement-breakpoint
CREATE TRIGGER audit_chain_links_no_truncate
  BEFORE TRUNCATE ON audit_chain_links
  FOR EACH STATEMENT EXECUTE FUNCTION refuse_change_to_history();
--> statement-breakpoint
CREATE TRIGGER audit_checkpoints_append_only
  BEFORE UPDATE OR DELETE ON audit_checkpoints
  FOR EACH ROW EXECUTE FUNCTION refuse_change_to_history();
--> statement-breakpoint
CREATE TRIGGER audit_checkpoints_no_truncate
  BEFORE TRUNCATE ON audit_checkpoints
  FOR EACH STATEMENT EXECUTE FUNCTION refuse_change_to_history();
--> statement-breakpoint

-- A new link must extend the chain's head: position 1 starts from 64 zeros, any later position needs the
-- link before it, whose hash it names as previous_hash, and a larger event sequence than that link's. With
-- the unique chain_position this makes a forked or reordered chain impossible to store, even for a buggy or
-- second sealer; the hash itself is checked by audit:verify (computing it here would put the canonical
-- encoding in two languages).
CREATE FUNCTION audit_chain_link_extends_head() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  previous audit_chain_links%ROWTYPE;
BEGIN
  IF NEW.chain_position = 1 THEN
    IF NEW.previous_hash <> repeat('0', 64) THEN
      RAISE EXCEPTION 'the first audit chain link must start from the zero hash' USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
  END IF;
  SELECT * INTO previous FROM audit_chain_links WHERE chain_position = NEW.chain_position - 1;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'audit chain link % has no predecessor', NEW.chain_position USING ERRCODE = 'check_violation';
  END IF;
  IF previous.hash <> NEW.previous_hash OR previous.sequence >= NEW.sequence THEN
    RAISE EXCEPTION 'audit chain link % does not extend link %', NEW.chain_position, previous.chain_position
      USING ERRCODE = 'check_violation';
  END IF;
  RETURN NEW;
END;
$$;
--> statement-breakpoint
CREATE TRIGGER audit_chain_links_extend_head
  BEFORE INSERT ON audit_chain_links
  FOR EACH ROW EXECUTE FUNCTION audit_chain_link_extends_head();
