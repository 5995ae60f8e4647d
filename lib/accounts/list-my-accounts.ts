import "server-only";
import { asc } from "drizzle-orm";
import { database } from "@/db/client";
import { accounts } from "@/db/schema";
import { ownedAccountsFilter } from "@/lib/accounts/owned-accounts";
import type { CustomerActor } from "@/lib/auth/actor";
import { BankError } from "@/lib/errors";

/** What a customer may see of one of their accounts. Never a database row. */
export interface AccountSummary {
  id: string;
  accountNumber: string;
  kind: "checking" | "savings";
  nickname: string;
  currency: string;
  status: "active" | "frozen" | "closed";
  balanceMinor: bigint;
  availableMinor: bigint;
}

export async function listMyAccounts(actor: CustomerActor): Promise<AccountSummary[]> {
  // The type says customer, but a type is not validation: the check is repeated where the data is.
  if (actor.kind !== "customer") throw new BankError("not_found");
  const rows = await database()
    .select({
      id: accounts.id,
      accountNumber: accounts.accountNumber,
      kind: accounts.kind,
      nickname: accounts.nickname,
      currency: accounts.currency,
      status: accounts.status,
      balanceMinor: accounts.balanceMinor,
      availableMinor: accounts.availableMinor,
    })
    .from(accounts)
    .where(ownedAccountsFilter(actor))
    .orderBy(asc(accounts.kind), asc(accounts.accountNumber));
  return rows.map((row) => {
    if (row.kind === "system") throw new BankError("internal", { internalMessage: "system account reached a customer" });
    return { ...row, kind: row.kind };
  });
}
