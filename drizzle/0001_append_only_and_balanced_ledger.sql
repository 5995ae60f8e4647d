-- Hand-written: invariants that only triggers can hold. Only SQL that PostgreSQL 15 accepts (PGlite is 18).

-- Ledger entries and audit events are history: nobody edits or deletes them, corrections are new rows.
CREATE FUNCTION refuse_change_to_history() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '% on % is not allowed: this table is append-only', TG_OP, TG_TABLE_NAME
    USING ERRCODE = 'insufficient_privilege';
END;
$$;
--> statement-breakpoint
CREATE TRIGGER ledger_entries_append_only
  BEFORE UPDATE OR DELETE ON ledger_entries
  FOR EACH ROW EXECUTE FUNCTION refuse_change_to_history();
--> statement-breakpoint
CREATE TRIGGER ledger_entries_no_truncate
  BEFORE TRUNCATE ON ledger_entries
  FOR EACH STATEMENT EXECUTE FUNCTION refuse_change_to_history();
--> statement-breakpoint
CREATE TRIGGER audit_events_append_only
  BEFORE UPDATE OR DELETE ON audit_events
  FOR EACH ROW EXECUTE FUNCTION refuse_change_to_history();
--> statement-breakpoint
CREATE TRIGGER audit_events_no_truncate
  BEFORE TRUNCATE ON audit_events
  FOR EACH STATEMENT EXECUTE FUNCTION refuse_change_to_history();
--> statement-breakpoint

-- Double entry: at commit, every transfer that gained entries in this transaction must sum to zero.
-- Deferred to commit so that the legs of one posting can be inserted one after another.
CREATE FUNCTION check_transfer_balances() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  entries_sum numeric;
BEGIN
  SELECT coalesce(sum(amount_minor), 0) INTO entries_sum
    FROM ledger_entries WHERE transfer_id = NEW.transfer_id;
  IF entries_sum <> 0 THEN
    RAISE EXCEPTION 'ledger entries of transfer % sum to %, not zero', NEW.transfer_id, entries_sum
      USING ERRCODE = 'check_violation';
  END IF;
  RETURN NULL;
END;
$$;
--> statement-breakpoint
CREATE CONSTRAINT TRIGGER ledger_entries_balanced
  AFTER INSERT ON ledger_entries
  DEFERRABLE INITIALLY DEFERRED
  FOR EACH ROW EXECUTE FUNCTION check_transfer_balances();
