/**
 * The ledger's posting rules, as the SQL functions that run them. This file is the one place the rules live:
 * the TypeScript services in lib/ledger validate input, encrypt the memo and call these functions, and
 * `installLedgerDatabaseFunctions` (run by `npm run db:migrate` after the drizzle migrations) replaces the
 * functions in the database with exactly this text. There is no second copy in a migration that could drift.
 *
 * Why SQL functions: a transfer must lock its accounts, check them, write the transfer, its entries, the new
 * balances and the audit event, all in one transaction. Issued statement by statement from Node that is
 * seven or more round trips, and round trips, not CPU, decide how many transfers per second PostgreSQL can
 * take (STACK-NOTES 16: 0.41× pgbench's TPC-B interactively, 1.05× as one statement). A function call is one
 * round trip, in its own transaction when sent outside one.
 *
 * Concurrency design (READ COMMITTED, row locks, no serialization failures by construction):
 * - Every function that moves money locks, in this order: the held transfer being decided (if any), the
 *   initiating customer's `customer_limits` row (if money leaves the customer), then the accounts in id order.
 *   Everybody takes locks in the same order, so two postings can wait for each other but never deadlock.
 * - Each statement inside a plpgsql function takes a fresh snapshot under READ COMMITTED, so the checks made
 *   after the locks are granted see every transfer committed before them (balances, the daily total, and an
 *   idempotency key used by a parallel request for the same accounts).
 * - Refusals found before anything is written return an outcome row; a refusal discovered after a write
 *   raises, which rolls the whole transaction back. Either way nothing is ever half-done.
 * - The invariants are enforced again by the database itself: CHECK constraints keep customer balances and
 *   available balances at or above zero and available at or below posted, a deferred trigger refuses any
 *   transaction whose entries for a transfer do not sum to zero, and ledger entries are append-only.
 *
 * Only SQL that PostgreSQL 15 accepts (PGlite, the embedded default, is PostgreSQL 18).
 */
import { sql } from "drizzle-orm";
import type { DatabaseHandle } from "@/db/client";
import { ensureSystemAccounts } from "@/lib/ledger/system-accounts";

/** The outcome codes the functions return (first column of their result), mapped to errors in TypeScript. */
export const postingOutcomes = [
  "posted",
  "held",
  "replayed",
  "idempotency_conflict",
  "not_found",
  "account_unavailable",
  "currency_mismatch",
  "over_transfer_maximum",
  "over_daily_limit",
  "insufficient_funds",
  "confirmation_required",
] as const;
export type PostingOutcome = (typeof postingOutcomes)[number];

export const decisionOutcomes = ["approved", "rejected", "reversed", "not_found", "not_held", "not_reversible", "account_unavailable", "insufficient_funds"] as const;
export type DecisionOutcome = (typeof decisionOutcomes)[number];


const postTransferFunction = sql`
CREATE FUNCTION ledger_post_transfer(
  p_transfer_id uuid,
  p_initiator_id uuid,
  p_idempotency_key text,
  p_request_hash text,
  p_debit_account_id uuid,
  p_own_credit_account_id uuid,
  p_payee_id uuid,
  p_amount_minor bigint,
  p_memo_ciphertext text,
  p_session_id uuid,
  p_confirmation_payload_hash text,
  p_now timestamptz,
  p_confirmation_above_minor bigint,
  p_review_above_minor bigint,
  p_maximum_minor bigint,
  p_daily_outgoing_minor bigint,
  p_new_payee_confirmation_seconds integer,
  p_confirmation_window_seconds integer,
  p_ip_address text,
  p_user_agent text
) RETURNS TABLE (outcome text, transfer_id uuid, transfer_status text)
LANGUAGE plpgsql VOLATILE AS $function$
DECLARE
  leaves_customer boolean := p_payee_id IS NOT NULL;
  today date := (p_now AT TIME ZONE 'UTC')::date;
  credit_account_id uuid := p_own_credit_account_id;
  payee_created_at timestamptz;
  existing_id uuid;
  existing_status text;
  existing_hash text;
  locked record;
  debit_owner uuid; debit_kind account_kind; debit_status account_status; debit_currency char(3);
  debit_available bigint;
  credit_owner uuid; credit_kind account_kind; credit_status account_status; credit_currency char(3);
  credit_found boolean := false;
  debit_found boolean := false;
  sent_today bigint := 0;
  limit_day_held date;
  needs_confirmation boolean;
  confirmation_id uuid;
  new_status transfer_status;
  inserted_id uuid;
  debit_balance_after bigint;
  credit_balance_after bigint;
  writer_transaction_id xid8;
BEGIN
  -- Programming errors, not customer errors: the TypeScript layer validated all of these already.
  IF p_amount_minor IS NULL OR p_amount_minor <= 0 THEN
    RAISE EXCEPTION 'ledger: amount must be positive' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF (p_own_credit_account_id IS NULL) = (p_payee_id IS NULL) THEN
    RAISE EXCEPTION 'ledger: exactly one destination is required' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF p_idempotency_key IS NULL OR p_request_hash IS NULL THEN
    RAISE EXCEPTION 'ledger: an idempotency key and request hash are required' USING ERRCODE = 'invalid_parameter_value';
  END IF;

  -- A key already used answers with its original transfer, without taking any lock.
  SELECT t.id, t.status::text, t.request_hash INTO existing_id, existing_status, existing_hash
    FROM transfers t WHERE t.initiated_by = p_initiator_id AND t.idempotency_key = p_idempotency_key;
  IF existing_id IS NOT NULL THEN
    IF existing_hash <> p_request_hash THEN
      RETURN QUERY SELECT 'idempotency_conflict'::text, NULL::uuid, NULL::text; RETURN;
    END IF;
    RETURN QUERY SELECT 'replayed'::text, existing_id, existing_status; RETURN;
  END IF;

  IF leaves_customer THEN
    -- The payee must be the initiator's own, live payee; its account is the destination.
    SELECT p.account_id, p.created_at INTO credit_account_id, payee_created_at
      FROM payees p WHERE p.id = p_payee_id AND p.owner_id = p_initiator_id AND p.removed_at IS NULL;
    IF credit_account_id IS NULL THEN
      RETURN QUERY SELECT 'not_found'::text, NULL::uuid, NULL::text; RETURN;
    END IF;
    -- Lock order, first: the customer's limits row, so that parallel sends from two of their accounts
    -- are counted one after the other against the daily limit.
    SELECT cl.limit_day, cl.sent_on_day_minor INTO limit_day_held, sent_today
      FROM customer_limits cl WHERE cl.user_id = p_initiator_id FOR UPDATE;
    IF NOT FOUND THEN
      INSERT INTO customer_limits (user_id, limit_day, sent_on_day_minor) VALUES (p_initiator_id, today, 0)
        ON CONFLICT (user_id) DO NOTHING;
      SELECT cl.limit_day, cl.sent_on_day_minor INTO limit_day_held, sent_today
        FROM customer_limits cl WHERE cl.user_id = p_initiator_id FOR UPDATE;
    END IF;
    -- The day is taken from the calling server's clock. Counters only ever move forward: if another server
    -- whose clock runs ahead has already counted on a later day, this transfer counts on that day too.
    -- Otherwise a server a second behind at midnight would reset the counter and let the limit be sent twice.
    IF limit_day_held IS NULL OR limit_day_held < today THEN
      sent_today := 0;
    ELSE
      today := limit_day_held;
    END IF;
  END IF;

  IF credit_account_id = p_debit_account_id THEN
    RETURN QUERY SELECT 'not_found'::text, NULL::uuid, NULL::text; RETURN;
  END IF;

  -- Lock order, then: both accounts, in id order, so that opposite transfers between the same two accounts
  -- queue behind each other instead of deadlocking.
  FOR locked IN
    SELECT a.id, a.owner_id, a.kind, a.status, a.currency, a.available_minor
      FROM accounts a WHERE a.id IN (p_debit_account_id, credit_account_id) ORDER BY a.id FOR UPDATE
  LOOP
    IF locked.id = p_debit_account_id THEN
      debit_found := true; debit_owner := locked.owner_id; debit_kind := locked.kind;
      debit_status := locked.status; debit_currency := locked.currency; debit_available := locked.available_minor;
    ELSE
      credit_found := true; credit_owner := locked.owner_id; credit_kind := locked.kind;
      credit_status := locked.status; credit_currency := locked.currency;
    END IF;
  END LOOP;

  -- Ownership: the debit account is the initiator's customer account; an own-account destination is theirs
  -- too; a payee's account is any customer account. Anything else does not exist, as far as they can tell.
  IF NOT debit_found OR debit_kind = 'system' OR debit_owner IS DISTINCT FROM p_initiator_id
     OR NOT credit_found OR credit_kind = 'system'
     OR (NOT leaves_customer AND credit_owner IS DISTINCT FROM p_initiator_id) THEN
    RETURN QUERY SELECT 'not_found'::text, NULL::uuid, NULL::text; RETURN;
  END IF;

  -- A parallel request with the same key and the same accounts waited for our locks: now it is visible.
  SELECT t.id, t.status::text, t.request_hash INTO existing_id, existing_status, existing_hash
    FROM transfers t WHERE t.initiated_by = p_initiator_id AND t.idempotency_key = p_idempotency_key;
  IF existing_id IS NOT NULL THEN
    IF existing_hash <> p_request_hash THEN
      RETURN QUERY SELECT 'idempotency_conflict'::text, NULL::uuid, NULL::text; RETURN;
    END IF;
    RETURN QUERY SELECT 'replayed'::text, existing_id, existing_status; RETURN;
  END IF;

  -- The rules, in the order that lets each limit be reached: status, currency, the per-transfer maximum and
  -- the daily limit (money leaving the customer only), funds, then the second-factor confirmation.
  IF debit_status <> 'active' OR credit_status <> 'active' THEN
    RETURN QUERY SELECT 'account_unavailable'::text, NULL::uuid, NULL::text; RETURN;
  END IF;
  IF debit_currency <> credit_currency THEN
    RETURN QUERY SELECT 'currency_mismatch'::text, NULL::uuid, NULL::text; RETURN;
  END IF;
  IF leaves_customer AND p_amount_minor > p_maximum_minor THEN
    RETURN QUERY SELECT 'over_transfer_maximum'::text, NULL::uuid, NULL::text; RETURN;
  END IF;
  IF leaves_customer AND sent_today + p_amount_minor > p_daily_outgoing_minor THEN
    RETURN QUERY SELECT 'over_daily_limit'::text, NULL::uuid, NULL::text; RETURN;
  END IF;
  IF debit_available < p_amount_minor THEN
    RETURN QUERY SELECT 'insufficient_funds'::text, NULL::uuid, NULL::text; RETURN;
  END IF;

  -- A second factor bound to this very transfer is needed above the threshold, and for the first transfer
  -- to a payee saved recently (a hijacked session's favourite move: add a payee, then pay it).
  -- Written as separate steps because plpgsql runs an expression with a subquery as a full query (planner and
  -- executor) even when the answer is already known; most payments are small and to payees saved long ago.
  needs_confirmation := p_amount_minor > p_confirmation_above_minor;
  IF NOT needs_confirmation AND leaves_customer
     AND payee_created_at > p_now - make_interval(secs => p_new_payee_confirmation_seconds) THEN
    needs_confirmation := NOT EXISTS (SELECT 1 FROM transfers t WHERE t.payee_id = p_payee_id AND t.status <> 'rejected');
  END IF;
  IF needs_confirmation THEN
    SELECT c.id INTO confirmation_id
      FROM step_up_confirmations c JOIN sessions s ON s.id = c.session_id
     WHERE c.session_id = p_session_id AND s.user_id = p_initiator_id AND s.revoked_at IS NULL
       AND c.payload_hash = p_confirmation_payload_hash AND c.used_at IS NULL
       AND c.confirmed_at > p_now - make_interval(secs => p_confirmation_window_seconds)
       AND c.confirmed_at <= p_now
     ORDER BY c.confirmed_at DESC LIMIT 1;
    IF confirmation_id IS NULL THEN
      RETURN QUERY SELECT 'confirmation_required'::text, NULL::uuid, NULL::text; RETURN;
    END IF;
  END IF;

  new_status := CASE WHEN leaves_customer AND p_amount_minor > p_review_above_minor THEN 'held' ELSE 'posted' END;

  -- Claim the key. A parallel request with the same key but other accounts did not wait for our locks; the
  -- unique key makes one of the two wait for the other here, and the loser answers with the winner's result.
  INSERT INTO transfers (id, kind, status, initiated_by, idempotency_key, request_hash, debit_account_id,
                         credit_account_id, payee_id, amount_minor, currency, memo_ciphertext, hold_reason,
                         posted_at, created_at)
  VALUES (p_transfer_id, CASE WHEN leaves_customer THEN 'external' ELSE 'internal' END::transfer_kind, new_status,
          p_initiator_id, p_idempotency_key, p_request_hash, p_debit_account_id, credit_account_id, p_payee_id,
          p_amount_minor, debit_currency, p_memo_ciphertext,
          CASE WHEN new_status = 'held' THEN 'amount_above_review_threshold' END,
          CASE WHEN new_status = 'posted' THEN p_now END, p_now)
  ON CONFLICT (initiated_by, idempotency_key) DO NOTHING
  RETURNING id INTO inserted_id;
  IF inserted_id IS NULL THEN
    SELECT t.id, t.status::text, t.request_hash INTO existing_id, existing_status, existing_hash
      FROM transfers t WHERE t.initiated_by = p_initiator_id AND t.idempotency_key = p_idempotency_key;
    IF existing_hash IS DISTINCT FROM p_request_hash THEN
      RETURN QUERY SELECT 'idempotency_conflict'::text, NULL::uuid, NULL::text; RETURN;
    END IF;
    RETURN QUERY SELECT 'replayed'::text, existing_id, existing_status; RETURN;
  END IF;

  IF needs_confirmation THEN
    UPDATE step_up_confirmations SET used_at = p_now WHERE id = confirmation_id AND used_at IS NULL;
    IF NOT FOUND THEN
      RAISE EXCEPTION 'ledger: confirmation was spent by a parallel request' USING ERRCODE = 'serialization_failure';
    END IF;
  END IF;

  IF new_status = 'held' THEN
    -- A hold takes the amount out of the available balance only; the posted balance and the ledger change
    -- when staff approve it, and a rejection gives the available amount back.
    UPDATE accounts SET available_minor = available_minor - p_amount_minor WHERE id = p_debit_account_id;
  ELSE
    UPDATE accounts SET balance_minor = balance_minor - p_amount_minor, available_minor = available_minor - p_amount_minor
      WHERE id = p_debit_account_id RETURNING balance_minor INTO debit_balance_after;
    UPDATE accounts SET balance_minor = balance_minor + p_amount_minor, available_minor = available_minor + p_amount_minor
      WHERE id = credit_account_id RETURNING balance_minor INTO credit_balance_after;
    INSERT INTO ledger_entries (id, transfer_id, account_id, amount_minor, balance_after_minor, created_at) VALUES
      (gen_random_uuid(), p_transfer_id, p_debit_account_id, -p_amount_minor, debit_balance_after, p_now),
      (gen_random_uuid(), p_transfer_id, credit_account_id, p_amount_minor, credit_balance_after, p_now);
  END IF;

  IF leaves_customer THEN
    UPDATE customer_limits SET limit_day = today, sent_on_day_minor = sent_today + p_amount_minor
      WHERE user_id = p_initiator_id;
  END IF;

  -- The event names its writer's transaction (the audit sealer's rule, lib/audit/record-audit-event.ts): the
  -- id must exist before the identity column draws the sequence value. This transaction has already written
  -- above, so it has one; taking it in its own statement keeps that true whatever the insert's evaluation order.
  writer_transaction_id := pg_current_xact_id();
  INSERT INTO audit_events (writer_transaction, occurred_at, actor_id, actor_role, action, target_type, target_id, ip_address, user_agent, details)
  VALUES (writer_transaction_id, p_now, p_initiator_id, 'customer',
          CASE WHEN new_status = 'held' THEN 'ledger.transfer.held' ELSE 'ledger.transfer.posted' END,
          'transfer', p_transfer_id::text, p_ip_address, left(p_user_agent, 512),
          jsonb_build_object('amountMinor', p_amount_minor::text, 'currency', debit_currency,
                             'toPayee', leaves_customer, 'confirmed', needs_confirmation));

  RETURN QUERY SELECT new_status::text, p_transfer_id, new_status::text;
END;
$function$`;

/**
 * Staff decide a held transfer: approve posts it (the amount was already out of the available balance),
 * reject releases the hold and gives the amount back to the day's limit. Who may decide (roles, four eyes)
 * is the back office's rule, checked in TypeScript before this is called; this function holds the money.
 */
const decideHeldTransferFunction = sql`
CREATE FUNCTION ledger_decide_held_transfer(
  p_transfer_id uuid,
  p_approve boolean,
  p_staff_id uuid,
  p_staff_role text,
  p_reason text,
  p_now timestamptz,
  p_ip_address text,
  p_user_agent text
) RETURNS TABLE (outcome text, transfer_id uuid, transfer_status text)
LANGUAGE plpgsql VOLATILE AS $function$
DECLARE
  held record;
  locked record;
  debit_status account_status;
  credit_status account_status;
  debit_balance_after bigint;
  credit_balance_after bigint;
  writer_transaction_id xid8;
BEGIN
  -- Lock order: the transfer being decided, then the limits row, then the accounts in id order.
  SELECT t.id, t.status, t.initiated_by, t.debit_account_id, t.credit_account_id, t.amount_minor, t.currency, t.created_at
    INTO held FROM transfers t WHERE t.id = p_transfer_id FOR UPDATE;
  IF NOT FOUND THEN
    RETURN QUERY SELECT 'not_found'::text, NULL::uuid, NULL::text; RETURN;
  END IF;
  IF held.status <> 'held' THEN
    RETURN QUERY SELECT 'not_held'::text, held.id, held.status::text; RETURN;
  END IF;
  IF NOT p_approve AND held.initiated_by IS NOT NULL THEN
    PERFORM 1 FROM customer_limits cl WHERE cl.user_id = held.initiated_by FOR UPDATE;
  END IF;
  FOR locked IN
    SELECT a.id, a.status FROM accounts a
     WHERE a.id IN (held.debit_account_id, held.credit_account_id) ORDER BY a.id FOR UPDATE
  LOOP
    IF locked.id = held.debit_account_id THEN debit_status := locked.status; ELSE credit_status := locked.status; END IF;
  END LOOP;

  IF p_approve THEN
    -- A frozen account can neither send nor receive: the transfer waits until it is unfrozen or rejected.
    IF debit_status <> 'active' OR credit_status <> 'active' THEN
      RETURN QUERY SELECT 'account_unavailable'::text, held.id, 'held'::text; RETURN;
    END IF;
    UPDATE accounts SET balance_minor = balance_minor - held.amount_minor
      WHERE id = held.debit_account_id RETURNING balance_minor INTO debit_balance_after;
    UPDATE accounts SET balance_minor = balance_minor + held.amount_minor, available_minor = available_minor + held.amount_minor
      WHERE id = held.credit_account_id RETURNING balance_minor INTO credit_balance_after;
    INSERT INTO ledger_entries (id, transfer_id, account_id, amount_minor, balance_after_minor, created_at) VALUES
      (gen_random_uuid(), held.id, held.debit_account_id, -held.amount_minor, debit_balance_after, p_now),
      (gen_random_uuid(), held.id, held.credit_account_id, held.amount_minor, credit_balance_after, p_now);
    UPDATE transfers SET status = 'posted', posted_at = p_now, decided_by = p_staff_id, decided_at = p_now,
                         decision_reason = p_reason
      WHERE id = held.id;
  ELSE
    UPDATE accounts SET available_minor = available_minor + held.amount_minor WHERE id = held.debit_account_id;
    -- The released amount no longer counts against the day it was sent on (if that day is still running).
    IF held.initiated_by IS NOT NULL THEN
      UPDATE customer_limits SET sent_on_day_minor = greatest(0, sent_on_day_minor - held.amount_minor)
       WHERE user_id = held.initiated_by AND limit_day = (held.created_at AT TIME ZONE 'UTC')::date;
    END IF;
    UPDATE transfers SET status = 'rejected', decided_by = p_staff_id, decided_at = p_now, decision_reason = p_reason
      WHERE id = held.id;
  END IF;

  -- The event names its writer's transaction (the audit sealer's rule, lib/audit/record-audit-event.ts): the
  -- id must exist before the identity column draws the sequence value. This transaction has already written
  -- above, so it has one; taking it in its own statement keeps that true whatever the insert's evaluation order.
  writer_transaction_id := pg_current_xact_id();
  INSERT INTO audit_events (writer_transaction, occurred_at, actor_id, actor_role, action, target_type, target_id, ip_address, user_agent, details)
  VALUES (writer_transaction_id, p_now, p_staff_id, p_staff_role,
          CASE WHEN p_approve THEN 'ledger.transfer.approved' ELSE 'ledger.transfer.rejected' END,
          'transfer', held.id::text, p_ip_address, left(p_user_agent, 512),
          jsonb_build_object('amountMinor', held.amount_minor::text, 'currency', held.currency));

  RETURN QUERY SELECT CASE WHEN p_approve THEN 'approved' ELSE 'rejected' END::text, held.id,
                      CASE WHEN p_approve THEN 'posted' ELSE 'rejected' END::text;
END;
$function$`;

/**
 * A correction: a new transfer in the opposite direction that points at the original, which is marked
 * `reversed`. Nothing is edited in the ledger. The account that received the money must still hold it.
 */
const reverseTransferFunction = sql`
CREATE FUNCTION ledger_reverse_transfer(
  p_original_id uuid,
  p_reversal_id uuid,
  p_actor_id uuid,
  p_actor_role text,
  p_reason text,
  p_now timestamptz,
  p_ip_address text,
  p_user_agent text
) RETURNS TABLE (outcome text, transfer_id uuid, transfer_status text)
LANGUAGE plpgsql VOLATILE AS $function$
DECLARE
  original record;
  locked record;
  from_kind account_kind; from_status account_status; from_available bigint;
  to_status account_status;
  from_balance_after bigint;
  to_balance_after bigint;
  writer_transaction_id xid8;
BEGIN
  SELECT t.id, t.kind, t.status, t.initiated_by, t.debit_account_id, t.credit_account_id, t.amount_minor, t.currency,
         t.created_at
    INTO original FROM transfers t WHERE t.id = p_original_id FOR UPDATE;
  IF NOT FOUND THEN
    RETURN QUERY SELECT 'not_found'::text, NULL::uuid, NULL::text; RETURN;
  END IF;
  IF original.status <> 'posted' OR original.kind = 'reversal' THEN
    RETURN QUERY SELECT 'not_reversible'::text, original.id, original.status::text; RETURN;
  END IF;
  -- Lock order, as everywhere: the transfer, then the sender's limits row (a payment to a payee counted against
  -- their daily limit), then the accounts in id order.
  IF original.kind = 'external' AND original.initiated_by IS NOT NULL THEN
    PERFORM 1 FROM customer_limits cl WHERE cl.user_id = original.initiated_by FOR UPDATE;
  END IF;
  FOR locked IN
    SELECT a.id, a.kind, a.status, a.available_minor FROM accounts a
     WHERE a.id IN (original.debit_account_id, original.credit_account_id) ORDER BY a.id FOR UPDATE
  LOOP
    IF locked.id = original.credit_account_id THEN
      from_kind := locked.kind; from_status := locked.status; from_available := locked.available_minor;
    ELSE
      to_status := locked.status;
    END IF;
  END LOOP;
  -- Corrections go through on frozen accounts (that is often where they are needed), never on closed ones.
  IF from_status = 'closed' OR to_status = 'closed' THEN
    RETURN QUERY SELECT 'account_unavailable'::text, original.id, original.status::text; RETURN;
  END IF;
  IF from_kind <> 'system' AND from_available < original.amount_minor THEN
    RETURN QUERY SELECT 'insufficient_funds'::text, original.id, original.status::text; RETURN;
  END IF;

  INSERT INTO transfers (id, kind, status, initiated_by, debit_account_id, credit_account_id, amount_minor, currency,
                         reverses_transfer_id, decided_by, decided_at, decision_reason, posted_at, created_at)
  VALUES (p_reversal_id, 'reversal', 'posted', p_actor_id, original.credit_account_id, original.debit_account_id,
          original.amount_minor, original.currency, original.id, p_actor_id, p_now, p_reason, p_now, p_now);
  UPDATE accounts SET balance_minor = balance_minor - original.amount_minor, available_minor = available_minor - original.amount_minor
    WHERE id = original.credit_account_id RETURNING balance_minor INTO from_balance_after;
  UPDATE accounts SET balance_minor = balance_minor + original.amount_minor, available_minor = available_minor + original.amount_minor
    WHERE id = original.debit_account_id RETURNING balance_minor INTO to_balance_after;
  INSERT INTO ledger_entries (id, transfer_id, account_id, amount_minor, balance_after_minor, created_at) VALUES
    (gen_random_uuid(), p_reversal_id, original.credit_account_id, -original.amount_minor, from_balance_after, p_now),
    (gen_random_uuid(), p_reversal_id, original.debit_account_id, original.amount_minor, to_balance_after, p_now);
  UPDATE transfers SET status = 'reversed' WHERE id = original.id;
  -- Money that came back no longer counts against the day it was sent on (if that day is still running),
  -- exactly as a rejected hold gives its amount back.
  IF original.kind = 'external' AND original.initiated_by IS NOT NULL THEN
    UPDATE customer_limits SET sent_on_day_minor = greatest(0, sent_on_day_minor - original.amount_minor)
     WHERE user_id = original.initiated_by AND limit_day = (original.created_at AT TIME ZONE 'UTC')::date;
  END IF;

  -- The event names its writer's transaction (the audit sealer's rule, lib/audit/record-audit-event.ts): the
  -- id must exist before the identity column draws the sequence value. This transaction has already written
  -- above, so it has one; taking it in its own statement keeps that true whatever the insert's evaluation order.
  writer_transaction_id := pg_current_xact_id();
  INSERT INTO audit_events (writer_transaction, occurred_at, actor_id, actor_role, action, target_type, target_id, ip_address, user_agent, details)
  VALUES (writer_transaction_id, p_now, p_actor_id, p_actor_role, 'ledger.transfer.reversed', 'transfer', original.id::text,
          p_ip_address, left(p_user_agent, 512),
          jsonb_build_object('reversalId', p_reversal_id::text, 'amountMinor', original.amount_minor::text,
                             'currency', original.currency));

  RETURN QUERY SELECT 'reversed'::text, p_reversal_id, 'posted'::text;
END;
$function$`;

// Every statement here is a constant sql`` template without placeholders: DDL takes no bound parameters, and
// no value ever reaches these texts.
const dropStatements = [
  sql`DROP FUNCTION IF EXISTS ledger_post_transfer`,
  sql`DROP FUNCTION IF EXISTS ledger_decide_held_transfer`,
  sql`DROP FUNCTION IF EXISTS ledger_reverse_transfer`,
];

/**
 * Replaces the ledger's functions with the definitions above, in one transaction (drop and create, so that a
 * changed signature never leaves an old overload behind), and makes sure the bank's system accounts exist.
 * Called by `applyMigrations` after the drizzle migrations, as the owner role.
 */
export async function installLedgerDatabaseFunctions(handle: DatabaseHandle): Promise<void> {
  await handle.db.transaction(async (tx) => {
    for (const statement of dropStatements) await tx.execute(statement);
    for (const definition of [postTransferFunction, decideHeldTransferFunction, reverseTransferFunction]) {
      await tx.execute(definition);
    }
    await ensureSystemAccounts(tx);
  });
}
