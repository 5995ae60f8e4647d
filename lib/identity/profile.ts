import "server-only";
import { eq } from "drizzle-orm";
import { database } from "@/db/client";
import { users } from "@/db/schema";
import type { SessionActor } from "@/lib/auth/actor";
import { recordAuditEvent } from "@/lib/audit/record-audit-event";
import { verifyPassword } from "@/lib/auth/password";
import { decryptField, encryptField, type FieldContext } from "@/lib/crypto";
import { BankError } from "@/lib/errors";
import type { ContactDetailsInput } from "@/lib/validation/profile";

/**
 * The customer's own profile: who they are (legal name, date of birth and national identifier, fixed at
 * onboarding and changed only through the bank) and how to reach them (email through its own confirmed
 * change, phone and postal address here). Every value is field-encrypted and bound to its row and column;
 * the national identifier never leaves this module whole, only its last four characters.
 */

export interface MyProfile {
  legalName: string;
  email: string;
  /** ISO date (YYYY-MM-DD), or null for customers seeded or onboarded without one. */
  dateOfBirth: string | null;
  /** Stored form: "+" (if given) and digits. */
  phone: string | null;
  /** Lines separated by "\n". */
  postalAddress: string | null;
  /** The last four characters of the national identifier, or null when the bank holds none. */
  nationalIdentifierLastFour: string | null;
}

/** Where each profile value is bound: its column of the user's own row. */
export function profileField(userId: string, column: "phone" | "postal_address" | "national_identifier"): FieldContext {
  return { table: "users", column, rowId: userId };
}

async function decryptOptional(ciphertext: string | null, context: FieldContext): Promise<string | null> {
  return ciphertext === null ? null : decryptField(ciphertext, context);
}

/** The last four letters or digits, for showing an identifier without revealing it. */
export function lastFourOf(identifier: string): string {
  return identifier.replace(/[^0-9A-Za-z]/g, "").slice(-4);
}

export async function getMyProfile(actor: SessionActor): Promise<MyProfile> {
  // Staff have no customer profile; as everywhere, what is not theirs does not exist.
  if (actor.kind !== "customer") throw new BankError("not_found");
  const [row] = await database()
    .select({
      id: users.id,
      role: users.role,
      emailCiphertext: users.emailCiphertext,
      legalNameCiphertext: users.legalNameCiphertext,
      dateOfBirthCiphertext: users.dateOfBirthCiphertext,
      phoneCiphertext: users.phoneCiphertext,
      postalAddressCiphertext: users.postalAddressCiphertext,
      nationalIdentifierCiphertext: users.nationalIdentifierCiphertext,
    })
    .from(users)
    .where(eq(users.id, actor.userId))
    .limit(1);
  if (!row || row.role !== "customer") throw new BankError("not_found");
  const nationalIdentifier = await decryptOptional(row.nationalIdentifierCiphertext, profileField(row.id, "national_identifier"));
  return {
    legalName: await decryptField(row.legalNameCiphertext, { table: "users", column: "legal_name", rowId: row.id }),
    email: await decryptField(row.emailCiphertext, { table: "users", column: "email", rowId: row.id }),
    dateOfBirth: await decryptOptional(row.dateOfBirthCiphertext, { table: "users", column: "date_of_birth", rowId: row.id }),
    phone: await decryptOptional(row.phoneCiphertext, profileField(row.id, "phone")),
    postalAddress: await decryptOptional(row.postalAddressCiphertext, profileField(row.id, "postal_address")),
    nationalIdentifierLastFour: nationalIdentifier === null ? null : lastFourOf(nationalIdentifier),
  };
}

/**
 * Replaces the customer's phone number and postal address (null removes one). The current password is
 * required, as for a change of email: a hijacked session that could quietly redirect the bank's letters and
 * calls is a step towards taking the account over. The audit event names what changed, never the values.
 */
export async function updateMyContactDetails(actor: SessionActor, input: ContactDetailsInput): Promise<void> {
  if (actor.kind !== "customer") throw new BankError("not_found");
  const [user] = await database()
    .select({ id: users.id, role: users.role, passwordHash: users.passwordHash })
    .from(users)
    .where(eq(users.id, actor.userId))
    .limit(1);
  if (!user || user.role !== "customer") throw new BankError("not_found");
  const audit = { actorId: actor.userId, actorRole: actor.role, targetType: "user", targetId: actor.userId, ipAddress: actor.ipAddress, userAgent: actor.userAgent };
  if (!(await verifyPassword(user.passwordHash, input.currentPassword))) {
    await recordAuditEvent(database(), { ...audit, action: "identity.contact_details_change.refused", details: { reason: "wrong_current_password" } });
    throw new BankError("invalid_input", { fieldErrors: { currentPassword: ["Your current password is not correct."] } });
  }
  // Encrypted before the transaction, so that no key work happens while rows are locked.
  const phoneCiphertext = input.phone === null ? null : await encryptField(input.phone, profileField(user.id, "phone"));
  const postalAddressCiphertext =
    input.postalAddress === null ? null : await encryptField(input.postalAddress, profileField(user.id, "postal_address"));
  await database().transaction(async (tx) => {
    const [before] = await tx
      .select({ phoneCiphertext: users.phoneCiphertext, postalAddressCiphertext: users.postalAddressCiphertext })
      .from(users)
      .where(eq(users.id, user.id))
      .for("update");
    if (!before) throw new BankError("not_found");
    const [previousPhone, previousAddress] = await Promise.all([
      decryptOptional(before.phoneCiphertext, profileField(user.id, "phone")),
      decryptOptional(before.postalAddressCiphertext, profileField(user.id, "postal_address")),
    ]);
    await tx.update(users).set({ phoneCiphertext, postalAddressCiphertext }).where(eq(users.id, user.id));
    await recordAuditEvent(tx, {
      ...audit,
      action: "identity.contact_details.changed",
      details: { phoneChanged: previousPhone !== input.phone, postalAddressChanged: previousAddress !== input.postalAddress },
    });
  });
}
