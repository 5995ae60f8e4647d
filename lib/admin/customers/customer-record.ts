import "server-only";
import { and, eq } from "drizzle-orm";
import { type Queryable } from "@/db/client";
import { users } from "@/db/schema";
import { decryptField, type FieldContext } from "@/lib/crypto";
import { BankError } from "@/lib/errors";
import { lastFourOf, profileField } from "@/lib/identity/profile";
import type { RevealableCustomerField } from "@/lib/validation/admin-customers";
import { maskDate, maskEmail, maskName, maskNationalIdentifier, maskPhone, maskPostalAddress } from "@/lib/admin/customers/masking";

/**
 * Reading a customer's encrypted profile for the back office, shared by the detail page (masked) and the
 * reveal (one field in full). Not a use case: it checks no permission, so only the use cases in this folder,
 * which start with `requireStaffPermission`, call it.
 */

export const customerIdPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const columnOf: Record<RevealableCustomerField, "email" | "legal_name" | "date_of_birth" | "phone" | "postal_address" | "national_identifier"> = {
  email: "email",
  legal_name: "legal_name",
  date_of_birth: "date_of_birth",
  phone: "phone",
  postal_address: "postal_address",
  national_identifier: "national_identifier",
};

export interface CustomerRow {
  id: string;
  createdAt: Date;
  emailVerifiedAt: Date | null;
  lockedUntil: Date | null;
  totpEnrolledAt: Date | null;
  ciphertexts: Record<RevealableCustomerField, string | null>;
}

/** The customer's row, or BankError("not_found") for a malformed id, an unknown id or anyone not a customer. */
export async function loadCustomerRow(queryable: Queryable, customerId: string): Promise<CustomerRow> {
  if (!customerIdPattern.test(customerId)) throw new BankError("not_found");
  const [row] = await queryable
    .select({
      id: users.id,
      createdAt: users.createdAt,
      emailVerifiedAt: users.emailVerifiedAt,
      lockedUntil: users.lockedUntil,
      totpEnrolledAt: users.totpEnrolledAt,
      email: users.emailCiphertext,
      legalName: users.legalNameCiphertext,
      dateOfBirth: users.dateOfBirthCiphertext,
      phone: users.phoneCiphertext,
      postalAddress: users.postalAddressCiphertext,
      nationalIdentifier: users.nationalIdentifierCiphertext,
    })
    .from(users)
    .where(and(eq(users.id, customerId), eq(users.role, "customer")))
    .limit(1);
  if (!row) throw new BankError("not_found");
  return {
    id: row.id,
    createdAt: row.createdAt,
    emailVerifiedAt: row.emailVerifiedAt,
    lockedUntil: row.lockedUntil,
    totpEnrolledAt: row.totpEnrolledAt,
    ciphertexts: {
      email: row.email,
      legal_name: row.legalName,
      date_of_birth: row.dateOfBirth,
      phone: row.phone,
      postal_address: row.postalAddress,
      national_identifier: row.nationalIdentifier,
    },
  };
}

function contextOf(customerId: string, field: RevealableCustomerField): FieldContext {
  const column = columnOf[field];
  if (column === "phone" || column === "postal_address" || column === "national_identifier") return profileField(customerId, column);
  return { table: "users", column, rowId: customerId };
}

/** One field decrypted in full, or null when the bank holds none. */
export async function decryptCustomerField(row: CustomerRow, field: RevealableCustomerField): Promise<string | null> {
  const ciphertext = row.ciphertexts[field];
  return ciphertext === null ? null : decryptField(ciphertext, contextOf(row.id, field));
}

/** One field masked (lib/admin/customers/masking.ts), or null when the bank holds none. */
export async function maskedCustomerField(row: CustomerRow, field: RevealableCustomerField): Promise<string | null> {
  const value = await decryptCustomerField(row, field);
  if (value === null) return null;
  switch (field) {
    case "email":
      return maskEmail(value);
    case "legal_name":
      return maskName(value);
    case "date_of_birth":
      return maskDate();
    case "phone":
      return maskPhone(value);
    case "postal_address":
      return maskPostalAddress(value);
    case "national_identifier":
      return maskNationalIdentifier(lastFourOf(value));
  }
}
