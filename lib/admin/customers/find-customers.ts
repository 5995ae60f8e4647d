import "server-only";
import { and, eq, inArray } from "drizzle-orm";
import { z } from "zod";
import { database } from "@/db/client";
import { accounts, users } from "@/db/schema";
import { isValidAccountNumber } from "@/lib/accounts/account-number";
import { requireStaffPermission } from "@/lib/admin/staff-guard";
import { customerIdPattern, loadCustomerRow, maskedCustomerField } from "@/lib/admin/customers/customer-record";
import type { Actor } from "@/lib/auth/actor";
import { isLockedAt } from "@/lib/auth/lockout";
import { blindIndexLookup, normaliseEmail } from "@/lib/crypto";
import { BankError } from "@/lib/errors";
import { customerSearchSchema } from "@/lib/validation/admin-customers";
import { emailAddress } from "@/lib/validation/fields";

/** What the search results show of one customer: masked, enough to pick the right one. */
export interface CustomerSearchResult {
  id: string;
  maskedEmail: string;
  maskedName: string;
  locked: boolean;
  emailVerified: boolean;
}

type SearchKey = { kind: "email"; email: string } | { kind: "account_number"; accountNumber: string } | { kind: "customer_id"; customerId: string };

const emailSchema = emailAddress({ invalid: "That is not a valid email address." });

function invalidQuery(message: string): BankError {
  return new BankError("invalid_input", { fieldErrors: { query: [message] } });
}

/**
 * Decides what the query is: an email address (it has an @), an account number (digits, with spaces or
 * hyphens as people write them; the check digit must be right), or a customer id (a uuid). Anything else is a
 * field error rather than an empty result, so a typo is not mistaken for "no such customer".
 */
function searchKeyOf(query: string): SearchKey {
  if (query.includes("@")) {
    const parsed = emailSchema.safeParse(query);
    if (!parsed.success) throw invalidQuery("That is not a valid email address.");
    return { kind: "email", email: normaliseEmail(parsed.data) };
  }
  if (/^[0-9][0-9 -]*$/.test(query)) {
    const digits = query.replace(/[ -]/g, "");
    if (!isValidAccountNumber(digits)) throw invalidQuery("That account number is not valid: check its ten digits.");
    return { kind: "account_number", accountNumber: digits };
  }
  if (customerIdPattern.test(query)) return { kind: "customer_id", customerId: query.toLowerCase() };
  throw invalidQuery("Enter an email address, an account number or a customer id.");
}

async function matchingCustomerIds(key: SearchKey): Promise<string[]> {
  switch (key.kind) {
    case "email": {
      // The blind index is exact: the address is normalised the way it was when stored, and looked up under every
      // live key version, so that rows not yet reindexed after a rotation are found too.
      const indexes = await blindIndexLookup("email", key.email);
      const rows = await database()
        .select({ id: users.id })
        .from(users)
        .where(and(inArray(users.emailBlindIndex, indexes), eq(users.role, "customer")));
      return rows.map((row) => row.id);
    }
    case "account_number": {
      const rows = await database()
        .select({ ownerId: accounts.ownerId })
        .from(accounts)
        .where(and(eq(accounts.accountNumber, key.accountNumber), eq(accounts.ownerRole, "customer")));
      return rows.flatMap((row) => (row.ownerId === null ? [] : [row.ownerId]));
    }
    case "customer_id":
      return [key.customerId];
  }
}

/**
 * Finds customers by email, account number or customer id: exact matches only, masked. An unknown query is an
 * empty list; malformed input is a field error on `query`. Staff accounts are never found here.
 */
export async function findCustomers(actor: Actor | null, query: string): Promise<CustomerSearchResult[]> {
  requireStaffPermission(actor, "customers.read");
  const parsed = customerSearchSchema.safeParse({ query });
  if (!parsed.success) {
    throw new BankError("invalid_input", { fieldErrors: z.flattenError(parsed.error).fieldErrors as Record<string, string[]> });
  }
  const ids = await matchingCustomerIds(searchKeyOf(parsed.data.query));
  const now = new Date();
  const results: CustomerSearchResult[] = [];
  for (const id of [...new Set(ids)]) {
    try {
      const row = await loadCustomerRow(database(), id);
      results.push({
        id: row.id,
        maskedEmail: (await maskedCustomerField(row, "email")) ?? "",
        maskedName: (await maskedCustomerField(row, "legal_name")) ?? "",
        locked: isLockedAt(row.lockedUntil, now),
        emailVerified: row.emailVerifiedAt !== null,
      });
    } catch (error) {
      // A customer id that names nobody (or a staff member) is simply not a result.
      if (error instanceof BankError && error.code === "not_found") continue;
      throw error;
    }
  }
  return results;
}
