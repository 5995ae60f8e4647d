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
  char,
  check,
  foreignKey,
  index,
  jsonb,
  pgEnum,
  pgTable,
  text,
  timestamp,
  unique,
  uuid,
} from "drizzle-orm/pg-core";

export const userRole = pgEnum("user_role", ["customer", "admin", "support", "auditor"]);
export const accountKind = pgEnum("account_kind", ["checking", "savings", "system"]);
export const accountStatus = pgEnum("account_status", ["active", "frozen", "closed"]);
export const transferKind = pgEnum("transfer_kind", ["deposit", "internal", "external", "reversal"]);
export const transferStatus = pgEnum("transfer_status", ["posted", "held", "rejected", "reversed"]);

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
    passwordHash: text("password_hash").notNull(),
    createdAt: createdAt(),
  },
  (table) => [
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
    createdAt: createdAt(),
  },
  (table) => [
    unique("accounts_account_number_unique").on(table.accountNumber),
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

export const transfers = pgTable(
  "transfers",
  {
    id: uuid("id").primaryKey(),
    kind: transferKind("kind").notNull(),
    status: transferStatus("status").notNull(),
    initiatedBy: uuid("initiated_by").references(() => users.id),
    idempotencyKey: text("idempotency_key"),
    debitAccountId: uuid("debit_account_id")
      .notNull()
      .references(() => accounts.id),
    creditAccountId: uuid("credit_account_id")
      .notNull()
      .references(() => accounts.id),
    amountMinor: bigint("amount_minor", { mode: "bigint" }).notNull(),
    currency: char("currency", { length: 3 }).notNull(),
    createdAt: createdAt(),
  },
  (table) => [
    unique("transfers_initiator_idempotency_key_unique").on(table.initiatedBy, table.idempotencyKey),
    check("transfers_amount_positive", sql`${table.amountMinor} > 0`),
    check("transfers_distinct_accounts", sql`${table.debitAccountId} <> ${table.creditAccountId}`),
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
    createdAt: createdAt(),
  },
  (table) => [
    index("ledger_entries_account_id_created_at_index").on(table.accountId, table.createdAt),
    index("ledger_entries_transfer_id_index").on(table.transferId),
    check("ledger_entries_amount_not_zero", sql`${table.amountMinor} <> 0`),
  ],
);

/**
 * The audit trail. Append-only (a trigger refuses UPDATE and DELETE); `sequence` orders events and is what
 * the tamper-evident hash chain of the data-protection work will link. Details never hold PII.
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
  },
  (table) => [
    index("audit_events_actor_id_index").on(table.actorId),
    index("audit_events_action_index").on(table.action),
  ],
);
