import "server-only";
import crypto from "node:crypto";
import { eq } from "drizzle-orm";
import type { Queryable } from "@/db/client";
import { accounts } from "@/db/schema";
import { accountNumberFromDigits } from "@/lib/accounts/account-number";

export { bankCurrency } from "@/lib/accounts/bank-currency";
import { bankCurrency } from "@/lib/accounts/bank-currency";

/** A fresh ten-digit account number (nine random digits and a Luhn check digit). */
export function randomAccountNumber(): string {
  return accountNumberFromDigits(crypto.randomInt(100_000_000, 1_000_000_000).toString());
}

/**
 * Opens a checking account at zero balance for a verified customer, in the caller's transaction. A zero
 * opening balance needs no ledger posting. The unique constraint on account numbers is the real guard against
 * a collision; the look-up first makes the (one in a few hundred million) collision a retry instead of an
 * aborted transaction.
 */
export async function openCheckingAccount(queryable: Queryable, customerId: string): Promise<string> {
  let accountNumber = randomAccountNumber();
  for (let attempt = 0; attempt < 5; attempt += 1) {
    const [taken] = await queryable
      .select({ id: accounts.id })
      .from(accounts)
      .where(eq(accounts.accountNumber, accountNumber))
      .limit(1);
    if (!taken) break;
    accountNumber = randomAccountNumber();
  }
  const id = crypto.randomUUID();
  await queryable.insert(accounts).values({
    id,
    ownerId: customerId,
    ownerRole: "customer",
    kind: "checking",
    accountNumber,
    currency: bankCurrency,
    nickname: "Everyday account",
  });
  return id;
}
