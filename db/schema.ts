/**
 * The database schema. Invariants that the database can hold are declared here (CHECKs, unique keys,
 * composite foreign keys) and in the hand-written trigger migration in drizzle/, so that a bug anywhere in
 * the application, or a person at a SQL prompt, cannot break them. Money is bigint minor units everywhere.
 * Tables with encrypted fields use application-generated UUIDs (no database default): the row id must
 * exist before the values are encrypted, because it is part of each field's additional authenticated data.
 */
import { sql } from "drizzle-orm";
import {
  bigint,
  boolean,
  char,
  check,
  customType,
  date,
  foreignKey,
  index,
  integer,
  jsonb,
  pgEnum,
  pgTable,
  primaryKey,
  text,
  timestamp,
  unique,
  uniqueIndex,
  uuid,
} from "drizzle-orm/pg-core";

export const userRole = pgEnum("user_role", ["customer", "admin", "support", "auditor"]);
export const accountKind = pgEnum("account_kind", ["checking", "savings", "system"]);
export const accountStatus = pgEnum("account_status", ["active", "frozen", "closed"]);
export const transferKind = pgEnum("transfer_kind", ["deposit", "internal", "external", "reversal"]);
export const transferStatus = pgEnum("transfer_status", ["posted", "held", "rejected", "reversed"]);
export const systemAccountPurpose = pgEnum("system_account_purpose", ["funding", "suspense", "fees"]);
export const payeeMatchResult = pgEnum("payee_match_result", ["exact_match", "close_match", "no_match"]);
export const userTokenPurpose = pgEnum("user_token_purpose", [
  "email_verification",
  "password_reset",
  "email_change",
  "mfa_reenrolment",
]);
export const mfaResetStatus = pgEnum("mfa_reset_status", ["pending", "approved", "cancelled", "completed"]);
export const signInOutcome = pgEnum("sign_in_outcome", [
  "succeeded",
  "unknown_account",
  "wrong_password",
  "locked",
  "unverified",
  "second_factor_failed",
]);

const createdAt = () => timestamp("created_at", { withTimezone: true, mode: "date" }).notNull().defaultNow();

export const users = pgTable(
  "users",
  {
    id: uuid("id").primaryKey(),
    role: userRole("role").notNull(),
    // PII is stored only as field-encryption ciphertext; lookups by email go through the blind index.
    emailCiphertext: text("email_ciphertext").notNull(),
    emailBlindIndex: text("email_blind_index").notNull(),
    legalNameCiphertext: text("legal_name_ciphertext").notNull(),
    // Customers give a date of birth at registration; staff accounts have none.
    dateOfBirthCiphertext: text("date_of_birth_ciphertext"),
    // Contact details the customer keeps up to date on their profile page, and the national identifier taken
    // at onboarding (shown back only masked, last four characters). All optional, all customers only.
    phoneCiphertext: text("phone_ciphertext"),
    postalAddressCiphertext: text("postal_address_ciphertext"),
    nationalIdentifierCiphertext: text("national_identifier_ciphertext"),
    passwordHash: text("password_hash").notNull(),
    passwordChangedAt: timestamp("password_changed_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
    // Null until the owner follows the emailed verification link; such an account cannot sign in, and an
    // unverified registration older than its link's lifetime is deleted when the address is used again.
    emailVerifiedAt: timestamp("email_verified_at", { withTimezone: true, mode: "date" }),
    termsAcceptedAt: timestamp("terms_accepted_at", { withTimezone: true, mode: "date" }),
    // Lockout state lives with the user so that it counts per account whatever the client's address.
    failedSignInCount: integer("failed_sign_in_count").notNull().default(0),
    lockedUntil: timestamp("locked_until", { withTimezone: true, mode: "date" }),
    // When the account was last locked: the next successful sign-in shows a notice if it is newer than the
    // previous successful sign-in.
    lastLockedAt: timestamp("last_locked_at", { withTimezone: true, mode: "date" }),
    // The authenticator app's shared secret (base32), encrypted with the "mfa" data key and bound to this row;
    // null until the customer has confirmed an enrolment with a first code.
    totpSecretCiphertext: text("totp_secret_ciphertext"),
    totpEnrolledAt: timestamp("totp_enrolled_at", { withTimezone: true, mode: "date" }),
    // The last TOTP time step (Unix seconds / 30) that was accepted. A code is accepted only for a later step,
    // by a conditional UPDATE of this column, so one code can never be used twice, even by parallel requests.
    // A time step stays far below 2^53 for millions of years, so it is read as a JavaScript number.
    totpLastUsedStep: bigint("totp_last_used_step", { mode: "number" }),
    // A replacement authenticator between showing its QR code and its first code: the new secret (encrypted
    // with the "mfa" key, bound to this row under its own column name) and when it was made. It lives on the
    // user, not the session, so that starting again anywhere voids the previous attempt, and it is refused
    // once older than ten minutes (lib/auth/authenticator-replacement.ts). The enrolled secret stays in force
    // until the new one is confirmed.
    pendingTotpSecretCiphertext: text("pending_totp_secret_ciphertext"),
    pendingTotpCreatedAt: timestamp("pending_totp_created_at", { withTimezone: true, mode: "date" }),
    // Set when two staff members reset the second factor (lib/admin/mfa-reset): until the customer enrols a new
    // authenticator through the single-use link emailed to them, a password sign-in must not offer enrolment,
    // because a password alone must never be enough to put an authenticator on this account.
    mfaReenrolmentRequiredAt: timestamp("mfa_reenrolment_required_at", { withTimezone: true, mode: "date" }),
    createdAt: createdAt(),
  },
  (table) => [
    check("users_failed_sign_in_count_not_negative", sql`${table.failedSignInCount} >= 0`),
    check(
      "users_totp_enrolment_complete",
      sql`(${table.totpSecretCiphertext} is null) = (${table.totpEnrolledAt} is null)`,
    ),
    check(
      "users_pending_totp_complete",
      sql`(${table.pendingTotpSecretCiphertext} is null) = (${table.pendingTotpCreatedAt} is null)`,
    ),
    check(
      "users_mfa_reenrolment_without_authenticator",
      sql`${table.mfaReenrolmentRequiredAt} is null or ${table.totpSecretCiphertext} is null`,
    ),
    check(
      "users_date_of_birth_only_for_customers",
      sql`${table.dateOfBirthCiphertext} is null or ${table.role} = 'customer'`,
    ),
    check(
      "users_profile_only_for_customers",
      sql`(${table.phoneCiphertext} is null and ${table.postalAddressCiphertext} is null and ${table.nationalIdentifierCiphertext} is null) or ${table.role} = 'customer'`,
    ),
    unique("users_email_blind_index_unique").on(table.emailBlindIndex),
    // Target of the accounts' composite foreign key, which is how the database itself guarantees that
    // only customers hold bank accounts (staff can never approve movements of their own money).
    unique("users_id_role_unique").on(table.id, table.role),
  ],
);

export const accounts = pgTable(
  "accounts",
  {
    id: uuid("id").primaryKey(),
    ownerId: uuid("owner_id"),
    ownerRole: userRole("owner_role"),
    kind: accountKind("kind").notNull(),
    accountNumber: text("account_number").notNull(),
    currency: char("currency", { length: 3 }).notNull(),
    status: accountStatus("status").notNull().default("active"),
    nickname: text("nickname").notNull(),
    balanceMinor: bigint("balance_minor", { mode: "bigint" }).notNull().default(sql`0`),
    availableMinor: bigint("available_minor", { mode: "bigint" }).notNull().default(sql`0`),
    // What a bank-owned account is for: `funding` (where demo deposits and openings come from), `suspense`
    // (money the bank holds while it works out where it belongs) and `fees`. Null for customer accounts.
    systemPurpose: systemAccountPurpose("system_purpose"),
    createdAt: createdAt(),
  },
  (table) => [
    unique("accounts_account_number_unique").on(table.accountNumber),
    // One system account per purpose and currency: posting code finds "the funding account" by its purpose.
    uniqueIndex("accounts_system_purpose_currency_unique")
      .on(table.systemPurpose, table.currency)
      .where(sql`${table.systemPurpose} is not null`),
    check("accounts_system_purpose_iff_system", sql`(${table.kind} = 'system') = (${table.systemPurpose} is not null)`),
    index("accounts_owner_id_index").on(table.ownerId),
    foreignKey({
      name: "accounts_owner_is_customer_fk",
      columns: [table.ownerId, table.ownerRole],
      foreignColumns: [users.id, users.role],
    }),
    check("accounts_owner_role_is_customer", sql`${table.ownerRole} is null or ${table.ownerRole} = 'customer'`),
    check(
      "accounts_system_iff_no_owner",
      sql`(${table.kind} = 'system') = (${table.ownerId} is null) and (${table.ownerId} is null) = (${table.ownerRole} is null)`,
    ),
    // Customer accounts can never go below zero; only the bank's own system accounts (the funding account
    // that demo deposits and openings come from) carry negative balances.
    check(
      "accounts_customer_balance_not_negative",
      sql`${table.kind} = 'system' or (${table.balanceMinor} >= 0 and ${table.availableMinor} >= 0)`,
    ),
    check("accounts_available_not_above_balance", sql`${table.availableMinor} <= ${table.balanceMinor}`),
    check("accounts_currency_iso", sql`${table.currency} ~ '^[A-Z]{3}$'`),
    check("accounts_account_number_format", sql`${table.accountNumber} ~ '^[0-9]{10}$'`),
  ],
);

/**
 * Payees: another customer's account at this bank, saved by a customer after a confirmation-of-payee check.
 * The name is the one the customer typed (encrypted, bound to this row). Removing a payee sets `removed_at`
 * rather than deleting the row, because transfers keep pointing at the payee they were sent to.
 */
export const payees = pgTable(
  "payees",
  {
    id: uuid("id").primaryKey(),
    ownerId: uuid("owner_id")
      .notNull()
      .references(() => users.id),
    accountId: uuid("account_id")
      .notNull()
      .references(() => accounts.id),
    nameCiphertext: text("name_ciphertext").notNull(),
    // What confirmation of payee answered when the payee was saved.
    matchResult: payeeMatchResult("match_result").notNull(),
    createdAt: createdAt(),
    removedAt: timestamp("removed_at", { withTimezone: true, mode: "date" }),
  },
  (table) => [
    index("payees_owner_id_index").on(table.ownerId),
    // One live payee per destination account for each customer; a removed one may be saved again.
    uniqueIndex("payees_owner_account_live_unique")
      .on(table.ownerId, table.accountId)
      .where(sql`${table.removedAt} is null`),
  ],
);

/**
 * Each customer's running total of money that left them today (posted and held transfers to payees), the
 * row that posting locks before the accounts so that two parallel sends from two of the customer's accounts
 * cannot together pass the daily limit. `limit_day` is the UTC day the total belongs to; the first transfer
 * of a new day starts again from zero.
 */
export const customerLimits = pgTable(
  "customer_limits",
  {
    userId: uuid("user_id")
      .primaryKey()
      .references(() => users.id, { onDelete: "cascade" }),
    limitDay: date("limit_day", { mode: "string" }).notNull(),
    sentOnDayMinor: bigint("sent_on_day_minor", { mode: "bigint" }).notNull().default(sql`0`),
  },
  (table) => [check("customer_limits_sent_not_negative", sql`${table.sentOnDayMinor} >= 0`)],
);

/**
 * A movement of money between two accounts. Customer transfers carry their initiator's idempotency key with
 * a hash of the request it was first used for. A `held` transfer has no ledger entries yet: its amount has
 * left the debit account's available balance only, until staff approve (posted) or reject (released) it.
 * Corrections are reversing transfers that point at the original; nothing here is ever edited except the
 * status of a held or reversed transfer and the decision fields that go with it.
 */
export const transfers = pgTable(
  "transfers",
  {
    id: uuid("id").primaryKey(),
    kind: transferKind("kind").notNull(),
    status: transferStatus("status").notNull(),
    initiatedBy: uuid("initiated_by").references(() => users.id),
    idempotencyKey: text("idempotency_key"),
    // SHA-256 (hex) of the canonical request the key was first used with: a replay must be the same request.
    requestHash: text("request_hash"),
    debitAccountId: uuid("debit_account_id")
      .notNull()
      .references(() => accounts.id),
    creditAccountId: uuid("credit_account_id")
      .notNull()
      .references(() => accounts.id),
    payeeId: uuid("payee_id").references(() => payees.id),
    amountMinor: bigint("amount_minor", { mode: "bigint" }).notNull(),
    currency: char("currency", { length: 3 }).notNull(),
    // The customer's reference, sanitised and at most 140 characters, encrypted with the "memo" data key.
    memoCiphertext: text("memo_ciphertext"),
    // Why a transfer was held for review (for example `amount_above_review_threshold`); never free text.
    holdReason: text("hold_reason"),
    reversesTransferId: uuid("reverses_transfer_id"),
    decidedBy: uuid("decided_by").references(() => users.id),
    decidedAt: timestamp("decided_at", { withTimezone: true, mode: "date" }),
    // A staff member's reason for rejecting a held transfer or reversing a posted one (no customer PII).
    decisionReason: text("decision_reason"),
    postedAt: timestamp("posted_at", { withTimezone: true, mode: "date" }),
    createdAt: createdAt(),
  },
  (table) => [
    unique("transfers_initiator_idempotency_key_unique").on(table.initiatedBy, table.idempotencyKey),
    // A transfer is reversed at most once.
    unique("transfers_reverses_transfer_id_unique").on(table.reversesTransferId),
    foreignKey({
      name: "transfers_reverses_transfer_id_fk",
      columns: [table.reversesTransferId],
      foreignColumns: [table.id],
    }),
    index("transfers_debit_account_id_index").on(table.debitAccountId, table.createdAt),
    // The dashboard's recent activity and a transfer's ownership check look up money received by an account.
    index("transfers_credit_account_id_index").on(table.creditAccountId, table.createdAt),
    // Posting asks "has this payee been paid before?" for a recently saved payee.
    index("transfers_payee_id_index").on(table.payeeId),
    index("transfers_status_index").on(table.status).where(sql`${table.status} = 'held'`),
    check("transfers_amount_positive", sql`${table.amountMinor} > 0`),
    check("transfers_distinct_accounts", sql`${table.debitAccountId} <> ${table.creditAccountId}`),
    check("transfers_key_has_request_hash", sql`(${table.idempotencyKey} is null) = (${table.requestHash} is null)`),
    check("transfers_reversal_points_at_original", sql`(${table.kind} = 'reversal') = (${table.reversesTransferId} is not null)`),
    check("transfers_posted_has_time", sql`(${table.status} in ('posted', 'reversed')) = (${table.postedAt} is not null)`),
    check("transfers_memo_length", sql`${table.memoCiphertext} is null or length(${table.memoCiphertext}) < 1024`),
  ],
);

/**
 * One row per leg of a transfer, append-only (a trigger refuses UPDATE and DELETE), with the signed amount
 * and the account's balance after it. A deferred constraint trigger refuses to commit any transaction in
 * which a transfer's entries do not sum to zero.
 */
export const ledgerEntries = pgTable(
  "ledger_entries",
  {
    id: uuid("id").primaryKey(),
    transferId: uuid("transfer_id")
      .notNull()
      .references(() => transfers.id),
    accountId: uuid("account_id")
      .notNull()
      .references(() => accounts.id),
    amountMinor: bigint("amount_minor", { mode: "bigint" }).notNull(),
    balanceAfterMinor: bigint("balance_after_minor", { mode: "bigint" }).notNull(),
    // Orders an account's entries for history (keyset pagination) and statements: within one account, a
    // later posting always has a larger sequence, because postings on one account are serialised by its lock.
    entrySequence: bigint("entry_sequence", { mode: "bigint" }).notNull().generatedAlwaysAsIdentity(),
    createdAt: createdAt(),
  },
  (table) => [
    index("ledger_entries_account_id_created_at_index").on(table.accountId, table.createdAt),
    uniqueIndex("ledger_entries_account_id_sequence_index").on(table.accountId, table.entrySequence),
    index("ledger_entries_transfer_id_index").on(table.transferId),
    check("ledger_entries_amount_not_zero", sql`${table.amountMinor} <> 0`),
  ],
);

/**
 * PostgreSQL's 64-bit transaction id (`xid8`, what `pg_current_xact_id()` returns). Drizzle has no column type
 * for it; it travels as its decimal text, which is also how the audit chain's canonical encoding writes it.
 */
const transactionId = customType<{ data: string; driverData: string }>({
  dataType: () => "xid8",
});

/**
 * The audit trail. Append-only (a trigger refuses UPDATE and DELETE); `sequence` orders events and is what
 * the tamper-evident hash chain (`auditChainLinks`, lib/audit/seal-audit-events.ts) links. Details never hold
 * PII. `writerTransaction` is the id of the transaction that wrote the event, taken before the event's
 * sequence value is drawn (see lib/audit/record-audit-event.ts for why the order matters); rows written
 * before the chain existed have none, and a NOT VALID check in drizzle/0010 requires it of every new row.
 */
export const auditEvents = pgTable(
  "audit_events",
  {
    sequence: bigint("sequence", { mode: "bigint" }).primaryKey().generatedAlwaysAsIdentity(),
    occurredAt: timestamp("occurred_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
    actorId: uuid("actor_id"),
    actorRole: text("actor_role"),
    action: text("action").notNull(),
    targetType: text("target_type"),
    targetId: text("target_id"),
    ipAddress: text("ip_address"),
    userAgent: text("user_agent"),
    details: jsonb("details").$type<Record<string, string | number | boolean | null>>().notNull().default({}),
    writerTransaction: transactionId("writer_transaction"),
  },
  (table) => [
    index("audit_events_actor_id_index").on(table.actorId),
    index("audit_events_action_index").on(table.action),
  ],
);

/**
 * The tamper-evident hash chain over the audit trail, one link per sealed event, written only by the sealer
 * (lib/audit/seal-audit-events.ts) and append-only like the events. `chainPosition` counts sealed events from
 * 1 without gaps (the event sequence has gaps: rolled-back writers leave them); `hash` is
 * SHA-256(previous hash, position, canonical encoding of the event), lowercase hex. A statement trigger
 * (drizzle/0011, replacing 0010's row trigger) accepts an insert only if every new link extends the chain
 * (position - 1 exists with `previousHash` as its hash and a smaller sequence), so two sealers can never fork
 * the chain, whatever the application does.
 */
export const auditChainLinks = pgTable(
  "audit_chain_links",
  {
    // No foreign key to audit_events: checking one would lock (and WAL-log a lock on) every sealed event row,
    // a cost on the bank's hottest table for no protection, since audit:verify recomputes every link from
    // its event and reports a link without one (drizzle/0011).
    sequence: bigint("sequence", { mode: "bigint" }).primaryKey(),
    chainPosition: bigint("chain_position", { mode: "bigint" }).notNull(),
    previousHash: char("previous_hash", { length: 64 }).notNull(),
    hash: char("hash", { length: 64 }).notNull(),
    sealedAt: timestamp("sealed_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
  },
  (table) => [
    uniqueIndex("audit_chain_links_chain_position_index").on(table.chainPosition),
    check("audit_chain_links_position_positive", sql`${table.chainPosition} >= 1`),
    // The same rule as `~ '^[0-9a-f]{64}$'` (64 characters, all lowercase hex), written without a counted
    // repetition: PostgreSQL's regex engine expands `{64}` into a large automaton, and these two checks were
    // two thirds of the database's cost of sealing an event (drizzle/0015). The sealer inserts one link per
    // audit event, so this runs once per transfer.
    check("audit_chain_links_previous_hash_hex", sql`char_length(${table.previousHash}) = 64 AND ${table.previousHash} !~ '[^0-9a-f]'`),
    check("audit_chain_links_hash_hex", sql`char_length(${table.hash}) = 64 AND ${table.hash} !~ '[^0-9a-f]'`),
  ],
);

/**
 * Signed checkpoints of the chain head: the head's position and hash, with an HMAC-SHA256 made by the key
 * provider's audit-checkpoint key (inside the HSM for PKCS#11). Someone who rewrites events and recomputes
 * every link consistently still cannot make a checkpoint for the new hashes without that key. Append-only.
 */
export const auditCheckpoints = pgTable(
  "audit_checkpoints",
  {
    id: bigint("id", { mode: "bigint" }).primaryKey().generatedAlwaysAsIdentity(),
    chainPosition: bigint("chain_position", { mode: "bigint" })
      .notNull()
      .references(() => auditChainLinks.chainPosition),
    hash: char("hash", { length: 64 }).notNull(),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull(),
    signature: char("signature", { length: 64 }).notNull(),
  },
  (table) => [
    index("audit_checkpoints_chain_position_index").on(table.chainPosition),
    check("audit_checkpoints_hash_hex", sql`${table.hash} ~ '^[0-9a-f]{64}$'`),
    check("audit_checkpoints_signature_hex", sql`${table.signature} ~ '^[0-9a-f]{64}$'`),
  ],
);

/**
 * Server-side session records. The JWT cookie names one of these rows and nothing else; every request reads
 * the row (and the user) to decide whether the session still stands, which is what makes sign-out,
 * "sign out everywhere", a password reset and a staff lock take effect on the next request.
 */
export const sessions = pgTable(
  "sessions",
  {
    id: uuid("id").primaryKey(),
    userId: uuid("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    createdAt: createdAt(),
    // Moved forward only by real page requests and actions, never by prefetches or the timeout dialog's poll.
    lastSeenAt: timestamp("last_seen_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
    ipAddress: text("ip_address"),
    userAgent: text("user_agent"),
    revokedAt: timestamp("revoked_at", { withTimezone: true, mode: "date" }),
    revokedReason: text("revoked_reason"),
    // Set when the second factor was completed in this session (the MFA issue).
    secondFactorAt: timestamp("second_factor_at", { withTimezone: true, mode: "date" }),
    // Shown once after sign-in when the account was locked since the previous successful sign-in.
    showLockNotice: boolean("show_lock_notice").notNull().default(false),
  },
  (table) => [
    index("sessions_user_id_index").on(table.userId),
    check("sessions_revocation_has_reason", sql`(${table.revokedAt} is null) = (${table.revokedReason} is null)`),
  ],
);

/**
 * Single-use, short-lived tokens sent by email (verification, password reset, email change). Only a SHA-256
 * of the token is stored: the tokens are 256 random bits, so a fast hash is enough, and a copy of this table
 * gives an attacker nothing to follow.
 */
export const userTokens = pgTable(
  "user_tokens",
  {
    id: uuid("id").primaryKey(),
    userId: uuid("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    purpose: userTokenPurpose("purpose").notNull(),
    tokenHash: text("token_hash").notNull(),
    expiresAt: timestamp("expires_at", { withTimezone: true, mode: "date" }).notNull(),
    usedAt: timestamp("used_at", { withTimezone: true, mode: "date" }),
    // For an email change: the new address, encrypted, and its blind index to keep it unique at use time.
    newEmailCiphertext: text("new_email_ciphertext"),
    newEmailBlindIndex: text("new_email_blind_index"),
    createdAt: createdAt(),
  },
  (table) => [
    unique("user_tokens_token_hash_unique").on(table.tokenHash),
    index("user_tokens_user_id_index").on(table.userId),
  ],
);

/**
 * Resetting a customer's second factor takes two staff members (issue 9, "Lost authenticator"): one requests
 * it with a reason, a different one approves it. Approval removes the authenticator and emails the customer a
 * single-use re-enrolment link (a `user_tokens` row of purpose `mfa_reenrolment`, named here by
 * `reenrolment_token_id`); the request is `completed` when the customer has enrolled through it. The database
 * itself refuses an approval by the requester and a second pending request for the same customer.
 */
export const mfaResetRequests = pgTable(
  "mfa_reset_requests",
  {
    id: uuid("id").primaryKey(),
    customerId: uuid("customer_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    requestedBy: uuid("requested_by")
      .notNull()
      .references(() => users.id),
    // The requester's words (how the identity was checked), which may name documents or details of the
    // customer: encrypted like any PII, bound to this row (lib/admin/mfa-reset/request-mfa-reset.ts).
    reasonCiphertext: text("reason_ciphertext").notNull(),
    status: mfaResetStatus("status").notNull().default("pending"),
    approvedBy: uuid("approved_by").references(() => users.id),
    cancelledBy: uuid("cancelled_by").references(() => users.id),
    reenrolmentTokenId: uuid("reenrolment_token_id").references(() => userTokens.id, { onDelete: "set null" }),
    createdAt: createdAt(),
    decidedAt: timestamp("decided_at", { withTimezone: true, mode: "date" }),
    completedAt: timestamp("completed_at", { withTimezone: true, mode: "date" }),
  },
  (table) => [
    uniqueIndex("mfa_reset_requests_one_pending_per_customer")
      .on(table.customerId)
      .where(sql`${table.status} = 'pending'`),
    index("mfa_reset_requests_customer_id_index").on(table.customerId),
    check("mfa_reset_requests_four_eyes", sql`${table.approvedBy} is null or ${table.approvedBy} <> ${table.requestedBy}`),
    check(
      "mfa_reset_requests_approval_complete",
      sql`(${table.status} in ('approved', 'completed')) = (${table.approvedBy} is not null)`,
    ),
    check(
      "mfa_reset_requests_decision_complete",
      sql`(${table.status} = 'pending') = (${table.decidedAt} is null)`,
    ),
  ],
);

/**
 * Email messages waiting to be sent, written in the same transaction as the change that causes them, so a
 * change is never committed without its notice and a notice is never sent for a change that rolled back.
 * Recipient and body are encrypted (the body may hold a single-use link).
 */
export const outbox = pgTable(
  "outbox",
  {
    id: uuid("id").primaryKey(),
    userId: uuid("user_id").references(() => users.id, { onDelete: "set null" }),
    template: text("template").notNull(),
    recipientCiphertext: text("recipient_ciphertext").notNull(),
    subject: text("subject").notNull(),
    bodyCiphertext: text("body_ciphertext").notNull(),
    createdAt: createdAt(),
    attempts: integer("attempts").notNull().default(0),
    nextAttemptAt: timestamp("next_attempt_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
    deliveredAt: timestamp("delivered_at", { withTimezone: true, mode: "date" }),
    transport: text("transport"),
    lastError: text("last_error"),
  },
  (table) => [index("outbox_pending_index").on(table.deliveredAt, table.nextAttemptAt)],
);

/**
 * Every sign-in attempt: the login history shown to a customer (their own rows), and attempts on unknown
 * addresses with no user (never shown to anyone; writing them keeps every failure equally expensive, so that
 * response time does not reveal whether an address has an account).
 */
export const signInEvents = pgTable(
  "sign_in_events",
  {
    id: bigint("id", { mode: "bigint" }).primaryKey().generatedAlwaysAsIdentity(),
    userId: uuid("user_id").references(() => users.id, { onDelete: "cascade" }),
    occurredAt: timestamp("occurred_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
    outcome: signInOutcome("outcome").notNull(),
    ipAddress: text("ip_address"),
    userAgent: text("user_agent"),
  },
  (table) => [index("sign_in_events_user_id_occurred_at_index").on(table.userId, table.occurredAt)],
);

/**
 * Devices a user has signed in from, identified by a random long-lived cookie whose HMAC is stored here.
 * A successful sign-in from a device not in this list is emailed to the owner.
 */
export const knownDevices = pgTable(
  "known_devices",
  {
    userId: uuid("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    deviceHash: text("device_hash").notNull(),
    firstSeenAt: timestamp("first_seen_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
    lastSeenAt: timestamp("last_seen_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
  },
  (table) => [primaryKey({ name: "known_devices_pk", columns: [table.userId, table.deviceHash] })],
);

/**
 * One-time recovery codes, for a customer who has lost their authenticator. Only a SHA-256 of each code (with
 * the user id) is stored; lib/auth/recovery-codes.ts explains why a fast hash is enough. A new set replaces
 * the old one (the old rows are deleted), and a used code keeps its row with `used_at` set.
 */
export const recoveryCodes = pgTable(
  "recovery_codes",
  {
    id: uuid("id").primaryKey(),
    userId: uuid("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    codeHash: text("code_hash").notNull(),
    createdAt: createdAt(),
    usedAt: timestamp("used_at", { withTimezone: true, mode: "date" }),
  },
  // The unique key's index starts with user_id, so it also serves every lookup by user: a separate index on
  // user_id alone would only cost writes.
  (table) => [unique("recovery_codes_user_id_code_hash_unique").on(table.userId, table.codeHash)],
);

/**
 * The half-way state of a two-step sign-in: the password was right, the second factor is still to come.
 * The browser holds a random 256-bit token (stored here only as SHA-256) and a separate random browser
 * binding from its own cookie (also stored as SHA-256), so a ticket that leaks from one browser cannot be
 * finished in another. A ticket lives five minutes and is used once, when the session is created.
 * `pending_totp_secret_ciphertext` holds the secret of an enrolment in progress (a customer who has no
 * authenticator yet sets one up during sign-in); it moves to `users` when the first code confirms it.
 */
export const signInTickets = pgTable(
  "sign_in_tickets",
  {
    id: uuid("id").primaryKey(),
    userId: uuid("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    tokenHash: text("token_hash").notNull(),
    browserBindingHash: text("browser_binding_hash").notNull(),
    createdAt: createdAt(),
    expiresAt: timestamp("expires_at", { withTimezone: true, mode: "date" }).notNull(),
    usedAt: timestamp("used_at", { withTimezone: true, mode: "date" }),
    secondFactorVerifiedAt: timestamp("second_factor_verified_at", { withTimezone: true, mode: "date" }),
    pendingTotpSecretCiphertext: text("pending_totp_secret_ciphertext"),
  },
  (table) => [
    unique("sign_in_tickets_token_hash_unique").on(table.tokenHash),
    index("sign_in_tickets_user_id_index").on(table.userId),
    check("sign_in_tickets_expiry_after_creation", sql`${table.expiresAt} > ${table.createdAt}`),
  ],
);

/**
 * A second-factor confirmation bound to one exact request (the hash of its canonical payload, for example a
 * transfer's accounts and amount), made in one session and usable once, within the step-up window. The
 * session-wide step-up (`sessions.second_factor_at`) suits "recently confirmed" actions; this table suits
 * "confirm this very payment", where a code typed for one payload must not authorise a different one.
 * `payload_hash` is nullable only so that a future confirmation of an action without a payload can share the
 * table; lib/auth/step-up.ts always writes one.
 */
export const stepUpConfirmations = pgTable(
  "step_up_confirmations",
  {
    id: uuid("id").primaryKey(),
    sessionId: uuid("session_id")
      .notNull()
      .references(() => sessions.id, { onDelete: "cascade" }),
    payloadHash: text("payload_hash"),
    confirmedAt: timestamp("confirmed_at", { withTimezone: true, mode: "date" }).notNull(),
    usedAt: timestamp("used_at", { withTimezone: true, mode: "date" }),
  },
  (table) => [index("step_up_confirmations_session_id_index").on(table.sessionId, table.payloadHash)],
);

/**
 * The data-encryption keys of the PKCS#11 key provider (lib/crypto/pkcs11-provider.ts), each stored only
 * wrapped (AES-256-GCM encrypted) by the key-encryption key that never leaves the token. The raw key is never
 * written anywhere: the provider unwraps every row once, inside the token, and keeps the result in memory.
 *
 * - `purpose` is a data-key purpose ("pii", "mfa", "memo") or a blind-index purpose prefixed with
 *   "blind-index:" ("blind-index:email"), so the two families can never collide.
 * - `version` counts up from 1 per purpose; the highest version is the one new values are written with, and
 *   older versions stay until no ciphertext uses them (rows are never updated, except by a re-wrap under a
 *   new key-encryption key, which leaves the raw key unchanged).
 * - `wrapped_key` is `aes-256-gcm:<96-bit IV>:<encrypted key and 128-bit tag>` (base64url). The purpose,
 *   version and wrapping key's label are bound into the GCM additional data, so a wrapped key copied to
 *   another row does not unwrap.
 * - `wrapping_key_label` names the key-encryption key in the token (CKA_LABEL), so that rows wrapped by an
 *   older key-encryption key can still be found and re-wrapped when that key is rotated.
 *
 * A PKCS#11 provider running against the embedded PGlite shares its single connection with the
 * application, so the keys are loaded at start-up (instrumentation.ts), before any transaction needs them.
 */
export const dataKeys = pgTable(
  "data_keys",
  {
    purpose: text("purpose").notNull(),
    version: integer("version").notNull(),
    wrappedKey: text("wrapped_key").notNull(),
    wrappingKeyLabel: text("wrapping_key_label").notNull(),
    createdAt: createdAt(),
  },
  (table) => [
    primaryKey({ name: "data_keys_pkey", columns: [table.purpose, table.version] }),
    check("data_keys_purpose_shape", sql`${table.purpose} ~ '^(blind-index:)?[a-z][a-z0-9-]{0,62}$'`),
    check("data_keys_version_positive", sql`${table.version} between 1 and 999999999`),
    check("data_keys_wrapped_key_shape", sql`${table.wrappedKey} ~ '^aes-256-gcm:[A-Za-z0-9_-]{16}:[A-Za-z0-9_-]{64}$'`),
    check("data_keys_wrapping_key_label_present", sql`length(${table.wrappingKeyLabel}) between 1 and 128`),
  ],
);

export const transferReviewKind = pgEnum("transfer_review_kind", ["comment", "approval", "rejection"]);

/**
 * The back office's review trail of a held transfer (lib/admin/held-transfers): every comment, approval and
 * rejection by a staff member, append-only (a trigger refuses UPDATE, DELETE and TRUNCATE). The first row's
 * author is the transfer's first reviewer, who may not approve it (four eyes); approvals are counted from here.
 * `note` is staff text about the review, at most 500 characters, never customer PII.
 */
export const transferReviews = pgTable(
  "transfer_reviews",
  {
    id: uuid("id").primaryKey(),
    transferId: uuid("transfer_id")
      .notNull()
      .references(() => transfers.id),
    staffUserId: uuid("staff_user_id")
      .notNull()
      .references(() => users.id),
    kind: transferReviewKind("kind").notNull(),
    note: text("note"),
    createdAt: createdAt(),
  },
  (table) => [
    index("transfer_reviews_transfer_id_index").on(table.transferId, table.createdAt),
    check("transfer_reviews_note_length", sql`${table.note} is null or length(${table.note}) between 1 and 500`),
    // A comment and a rejection say something; an approval may stand alone.
    check("transfer_reviews_note_present", sql`${table.kind} = 'approval' or ${table.note} is not null`),
  ],
);

/**
 * Staff and roles (the back office). A staff account is never self-registered: an admin invites a support
 * or auditor member by email, and the invitee sets a password and enrols an authenticator through the
 * single-use link. The user row does not exist until then, so the invitation carries the address and name
 * itself (encrypted, bound to this row) and, while the invitee is on the acceptance page, the authenticator
 * secret they are being shown (encrypted with the "mfa" key). Only a SHA-256 of the link's token is stored.
 * `admin` is never granted by invitation: it is reached only through a role request that a second admin
 * approves (staff_role_requests).
 */
export const staffRequestStatus = pgEnum("staff_role_request_status", ["pending", "approved", "cancelled"]);

export const staffInvitations = pgTable(
  "staff_invitations",
  {
    id: uuid("id").primaryKey(),
    emailCiphertext: text("email_ciphertext").notNull(),
    legalNameCiphertext: text("legal_name_ciphertext").notNull(),
    role: userRole("role").notNull(),
    tokenHash: text("token_hash").notNull(),
    invitedBy: uuid("invited_by")
      .notNull()
      .references(() => users.id),
    expiresAt: timestamp("expires_at", { withTimezone: true, mode: "date" }).notNull(),
    usedAt: timestamp("used_at", { withTimezone: true, mode: "date" }),
    // The staff account the invitation became, once accepted.
    acceptedUserId: uuid("accepted_user_id").references(() => users.id, { onDelete: "set null" }),
    pendingTotpSecretCiphertext: text("pending_totp_secret_ciphertext"),
    createdAt: createdAt(),
  },
  (table) => [
    unique("staff_invitations_token_hash_unique").on(table.tokenHash),
    check("staff_invitations_role_not_admin", sql`${table.role} in ('support', 'auditor')`),
  ],
);

export const staffRoleRequests = pgTable(
  "staff_role_requests",
  {
    id: uuid("id").primaryKey(),
    targetUserId: uuid("target_user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    requestedRole: userRole("requested_role").notNull(),
    requestedBy: uuid("requested_by")
      .notNull()
      .references(() => users.id),
    status: staffRequestStatus("status").notNull().default("pending"),
    decidedBy: uuid("decided_by").references(() => users.id),
    createdAt: createdAt(),
    decidedAt: timestamp("decided_at", { withTimezone: true, mode: "date" }),
  },
  (table) => [
    // At most one open request per staff member: a second request would only be a second way to approve it.
    uniqueIndex("staff_role_requests_one_pending_per_target")
      .on(table.targetUserId)
      .where(sql`${table.status} = 'pending'`),
    check("staff_role_requests_only_admin", sql`${table.requestedRole} = 'admin'`),
    check("staff_role_requests_not_for_oneself", sql`${table.requestedBy} <> ${table.targetUserId}`),
    // The four-eyes rule, held by the database too: the approver is neither the requester nor the target.
    check(
      "staff_role_requests_second_admin",
      sql`${table.decidedBy} is null or (${table.decidedBy} <> ${table.requestedBy} and ${table.decidedBy} <> ${table.targetUserId})`,
    ),
    check(
      "staff_role_requests_decision_complete",
      sql`(${table.status} = 'pending') = (${table.decidedAt} is null) and (${table.status} <> 'approved' or ${table.decidedBy} is not null)`,
    ),
  ],
);
