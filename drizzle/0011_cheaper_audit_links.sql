ALTER TABLE "audit_chain_links" DROP CONSTRAINT "audit_chain_links_sequence_audit_events_sequence_fk";
--> statement-breakpoint

-- Hand-written from here on (drizzle-kit generated the line above). Sealing must cost the writers nothing
-- measurable (issue 8), and the benchmark showed the sealer's link inserts taking CPU from them: per link,
-- the foreign key above locked the event row (a WAL record on audit_events) and a row trigger ran a query.
-- The chain rule itself is unchanged, only checked once per statement: after the sealer's one multi-row
-- INSERT per batch, every new link must have its predecessor (already stored, or new in the same statement)
-- with the hash it names as previous_hash and a smaller event sequence, and position 1 must start from the
-- zero hash. With the unique chain_position this still makes a forked or reordered chain impossible to store.
DROP TRIGGER audit_chain_links_extend_head ON audit_chain_links;
--> statement-breakpoint
DROP FUNCTION audit_chain_link_extends_head();
--> statement-breakpoint
CREATE FUNCTION audit_chain_links_extend_chain() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  broken_position bigint;
BEGIN
  SELECT link.chain_position INTO broken_position
    FROM new_links AS link
    LEFT JOIN audit_chain_links AS previous ON previous.chain_position = link.chain_position - 1
   WHERE (link.chain_position = 1 AND link.previous_hash <> repeat('0', 64))
      OR (link.chain_position > 1
          AND (previous.chain_position IS NULL
               OR previous.hash <> link.previous_hash
               OR previous.sequence >= link.sequence))
   ORDER BY link.chain_position
   LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'audit chain link % does not extend the chain', broken_position USING ERRCODE = 'check_violation';
  END IF;
  RETURN NULL;
END;
$$;
--> statement-breakpoint
CREATE TRIGGER audit_chain_links_extend_chain
  AFTER INSERT ON audit_chain_links
  REFERENCING NEW TABLE AS new_links
  FOR EACH STATEMENT EXECUTE FUNCTION audit_chain_links_extend_chain();
