import "server-only";
/**
 * The one list of database columns that hold field-encryption ciphertexts, with everything needed to decrypt
 * and re-encrypt a value in place: its table, the row id it is bound to, the data-key purpose, and the
 * table and column names that the writer put into the encryption context (additional authenticated data).
 *
 * The context names are the ones the application's writers use, which are not always the SQL names: the
 * users' `email_ciphertext` is encrypted for column "email", for example. An entry that disagreed with its
 * writer would make re-encryption fail to decrypt that column, so tests/integration/key-rotation.test.ts
 * decrypts rows written by the application through every entry, and fails if the database has a
 * `*_ciphertext` column that is missing here. A new encrypted column must therefore be added here too.
 *
 * Every table listed has a uuid primary key named `id`, which re-encryption walks in order.
 */
import { getTableName } from "drizzle-orm";
import type { AnyPgColumn, PgTable } from "drizzle-orm/pg-core";
import { mfaResetRequests, outbox, payees, signInTickets, staffInvitations, transfers, users, userTokens } from "@/db/schema";
import type { FieldContext } from "@/lib/crypto/field-cipher";
import type { DataKeyPurpose } from "@/lib/crypto/key-provider";

export interface EncryptedColumn {
  /** SQL name of the table, which is also the context's table. */
  readonly table: string;
  /** SQL name of the uuid primary key whose value is the context's row id. */
  readonly idColumn: string;
  /** SQL name of the text column holding the ciphertext (nullable or not). */
  readonly ciphertextColumn: string;
  readonly purpose: DataKeyPurpose;
  /** The column name bound into the ciphertext (FieldContext.column). */
  readonly contextColumn: string;
}

function entry(
  table: PgTable,
  idColumn: AnyPgColumn,
  ciphertextColumn: AnyPgColumn,
  purpose: DataKeyPurpose,
  contextColumn: string,
): EncryptedColumn {
  return { table: getTableName(table), idColumn: idColumn.name, ciphertextColumn: ciphertextColumn.name, purpose, contextColumn };
}

// Each line names the writer whose context it mirrors.
export const encryptedColumns: readonly EncryptedColumn[] = Object.freeze([
  // lib/identity/register.ts, lib/identity/email-tokens.ts
  entry(users, users.id, users.emailCiphertext, "pii", "email"),
  // lib/identity/register.ts
  entry(users, users.id, users.legalNameCiphertext, "pii", "legal_name"),
  entry(users, users.id, users.dateOfBirthCiphertext, "pii", "date_of_birth"),
  // lib/identity/profile.ts (profileField)
  entry(users, users.id, users.phoneCiphertext, "pii", "phone"),
  entry(users, users.id, users.postalAddressCiphertext, "pii", "postal_address"),
  entry(users, users.id, users.nationalIdentifierCiphertext, "pii", "national_identifier"),
  // lib/auth/totp.ts (totpSecretField)
  entry(users, users.id, users.totpSecretCiphertext, "mfa", "totp_secret"),
  // lib/auth/authenticator-replacement.ts (pendingTotpSecretField)
  entry(users, users.id, users.pendingTotpSecretCiphertext, "mfa", "pending_totp_secret"),
  // lib/payees/manage-payees.ts (payeeNameField)
  entry(payees, payees.id, payees.nameCiphertext, "pii", "name"),
  // lib/ledger/post-transfer.ts (transferMemoField)
  entry(transfers, transfers.id, transfers.memoCiphertext, "memo", "memo"),
  // lib/identity/account-security.ts
  entry(userTokens, userTokens.id, userTokens.newEmailCiphertext, "pii", "new_email"),
  // lib/mail/outbox.ts, lib/mail/deliver.ts
  entry(outbox, outbox.id, outbox.recipientCiphertext, "pii", "recipient"),
  entry(outbox, outbox.id, outbox.bodyCiphertext, "pii", "body"),
  // lib/auth/sign-in-tickets.ts (pendingSecretField)
  entry(signInTickets, signInTickets.id, signInTickets.pendingTotpSecretCiphertext, "mfa", "pending_totp_secret"),
  // lib/admin/staff/invite-staff.ts (staffInvitationField), lib/identity/staff-invitation.ts (pendingSecretField)
  entry(staffInvitations, staffInvitations.id, staffInvitations.emailCiphertext, "pii", "email"),
  entry(staffInvitations, staffInvitations.id, staffInvitations.legalNameCiphertext, "pii", "legal_name"),
  entry(staffInvitations, staffInvitations.id, staffInvitations.pendingTotpSecretCiphertext, "mfa", "pending_totp_secret"),
  // lib/admin/mfa-reset/shared.ts (mfaResetReasonField)
  entry(mfaResetRequests, mfaResetRequests.id, mfaResetRequests.reasonCiphertext, "pii", "reason"),
]);

/** The encryption context of this column's value in the row `rowId`. */
export function fieldContextOf(column: EncryptedColumn, rowId: string): FieldContext {
  return { table: column.table, column: column.contextColumn, rowId };
}

/** "users.email_ciphertext", for messages and the progress display. */
export function describeEncryptedColumn(column: EncryptedColumn): string {
  return `${column.table}.${column.ciphertextColumn}`;
}
