import "server-only";
import { and, asc, eq, isNull } from "drizzle-orm";
import { database } from "@/db/client";
import { accounts, payees } from "@/db/schema";
import type { CustomerActor } from "@/lib/auth/actor";
import { decryptField } from "@/lib/crypto";
import { BankError } from "@/lib/errors";

/** What a customer sees of one of their payees. Never a row or ciphertext. */
export interface PayeeSummary {
  id: string;
  name: string;
  accountNumber: string;
  matchResult: "exact_match" | "close_match" | "no_match";
  createdAt: Date;
}

/** Where a payee's name ciphertext is bound: its own payee row. */
export function payeeNameField(payeeId: string) {
  return { table: "payees", column: "name", rowId: payeeId };
}

/** The customer's live payees (removed ones are kept for history but not listed), by name. */
export async function listMyPayees(actor: CustomerActor): Promise<PayeeSummary[]> {
  if (actor.kind !== "customer") throw new BankError("not_found");
  const rows = await database()
    .select({
      id: payees.id,
      nameCiphertext: payees.nameCiphertext,
      accountNumber: accounts.accountNumber,
      matchResult: payees.matchResult,
      createdAt: payees.createdAt,
    })
    .from(payees)
    .innerJoin(accounts, eq(accounts.id, payees.accountId))
    .where(and(eq(payees.ownerId, actor.userId), isNull(payees.removedAt)))
    .orderBy(asc(payees.createdAt));
  const summaries = await Promise.all(
    rows.map(async (row) => ({
      id: row.id,
      name: await decryptField(row.nameCiphertext, payeeNameField(row.id)),
      accountNumber: row.accountNumber,
      matchResult: row.matchResult,
      createdAt: row.createdAt,
    })),
  );
  return summaries.sort((first, second) => first.name.localeCompare(second.name));
}
