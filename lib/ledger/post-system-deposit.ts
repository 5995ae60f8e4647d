import "server-only";
import { eq, inArray, sql } from "drizzle-orm";
import { database, type Transaction } from "@/db/client";
import { accounts, ledgerEntries, transfers } from "@/db/schema";
import { recordAuditEvent } from "@/lib/audit/record-audit-event";
import type { SystemActor } from "@/lib/auth/actor";
import { assert } from "@/lib/errors";

export interface SystemDepositCommand {
  fundingAccountId: string;
  customerAccountId: string;
  amountMinor: bigint;
}

/**
 * Moves money from one of the bank's system accounts into a customer account: the way demo balances and
 * opening deposits come into existence, so that the ledger as a whole always sums to zero. One database
 * transaction holds the whole posting; accounts are locked in id order so that concurrent postings over the
 * same pair cannot deadlock. The ledger issue builds customer transfers on the same shape.
 */
export async function postSystemDeposit(
  actor: SystemActor,
  command: SystemDepositCommand,
  // The seed posts its openings inside its own transaction, so that a crash leaves no half-seeded bank;
  // the posting then runs in a savepoint of that transaction.
  enclosingTransaction?: Transaction,
): Promise<{ transferId: string }> {
  assert(command.amountMinor > 0n, "deposit amount must be positive");
  assert(command.fundingAccountId !== command.customerAccountId, "deposit needs two distinct accounts");
  const transferId = crypto.randomUUID();

  const runInTransaction: Transaction["transaction"] = (work) =>
    enclosingTransaction ? enclosingTransaction.transaction(work) : database().transaction(work);

  await runInTransaction(async (tx) => {
    const accountIds = [command.fundingAccountId, command.customerAccountId].sort();
    const locked = await tx
      .select({ id: accounts.id, kind: accounts.kind, currency: accounts.currency, status: accounts.status })
      .from(accounts)
      .where(inArray(accounts.id, accountIds))
      .orderBy(accounts.id)
      .for("update");
    const funding = locked.find((account) => account.id === command.fundingAccountId);
    const customer = locked.find((account) => account.id === command.customerAccountId);
    assert(funding?.kind === "system", "deposits come from a system account");
    assert(customer !== undefined && customer.kind !== "system", "deposits go to a customer account");
    assert(customer.status === "active", "deposits go to an active account");
    assert(funding.currency === customer.currency, "deposit accounts share one currency");

    await tx.insert(transfers).values({
      id: transferId,
      kind: "deposit",
      status: "posted",
      initiatedBy: null,
      debitAccountId: funding.id,
      creditAccountId: customer.id,
      amountMinor: command.amountMinor,
      currency: customer.currency,
      postedAt: new Date(),
    });

    const legs = [
      { accountId: funding.id, amountMinor: -command.amountMinor },
      { accountId: customer.id, amountMinor: command.amountMinor },
    ];
    assert(legs.reduce((sum, leg) => sum + leg.amountMinor, 0n) === 0n, "posting does not balance");

    for (const leg of legs) {
      const [updated] = await tx
        .update(accounts)
        .set({
          balanceMinor: sql`${accounts.balanceMinor} + ${leg.amountMinor}`,
          availableMinor: sql`${accounts.availableMinor} + ${leg.amountMinor}`,
        })
        .where(eq(accounts.id, leg.accountId))
        .returning({ balanceMinor: accounts.balanceMinor });
      assert(updated !== undefined, "locked account disappeared");
      await tx.insert(ledgerEntries).values({
        id: crypto.randomUUID(),
        transferId,
        accountId: leg.accountId,
        amountMinor: leg.amountMinor,
        balanceAfterMinor: updated.balanceMinor,
      });
    }

    await recordAuditEvent(tx, {
      actorId: null,
      actorRole: actor.role,
      action: "ledger.deposit.posted",
      targetType: "transfer",
      targetId: transferId,
      details: { purpose: actor.purpose, amountMinor: command.amountMinor.toString(), currency: customer.currency },
    });
  });

  return { transferId };
}
