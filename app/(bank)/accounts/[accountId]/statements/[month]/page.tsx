import type { Metadata } from "next";
import Link from "next/link";
import { notFound } from "next/navigation";
import { z } from "zod";
import { requireActorOrRedirect } from "@/lib/auth/session";
import { isBankError } from "@/lib/errors";
import { getMonthlyStatement, monthRange, type MonthlyStatement } from "@/lib/ledger/statements";
import { formatMinor } from "@/lib/money";
import { PrintButton } from "../print-button";

export const metadata: Metadata = { title: "Statement" };

const monthFormat = new Intl.DateTimeFormat("en-GB", { month: "long", year: "numeric", timeZone: "UTC" });
const dayFormat = new Intl.DateTimeFormat("en-GB", { day: "numeric", month: "short", timeZone: "UTC" });

/**
 * One account's statement for one month (YYYY-MM, UTC). A malformed month, someone else's account and an
 * account that does not exist all answer 404.
 */
export default async function StatementPage({ params }: { params: Promise<{ accountId: string; month: string }> }) {
  const actor = await requireActorOrRedirect();
  const { accountId, month } = await params;
  if (actor.kind !== "customer" || !z.uuid().safeParse(accountId).success || monthRange(month) === null) notFound();
  let statement: MonthlyStatement;
  try {
    statement = await getMonthlyStatement(actor, accountId, month);
  } catch (error) {
    if (isBankError(error) && error.code === "not_found") notFound();
    throw error;
  }
  const { account } = statement;
  const { currency } = account;
  return (
    <article className="card statement" data-testid="statement">
      <header className="statement-header">
        <div>
          <p className="statement-bank">Harbour Bank</p>
          <h1>Statement for {monthFormat.format(statement.periodStart)}</h1>
          <p>
            {account.nickname} · account number {account.accountNumber} · {currency}
          </p>
        </div>
        <PrintButton />
      </header>
      <dl className="statement-summary">
        <dt>Opening balance</dt>
        <dd data-testid="opening-balance">{formatMinor(statement.openingBalanceMinor, currency)}</dd>
        <dt>Money in</dt>
        <dd data-testid="total-in">{formatMinor(statement.totalInMinor, currency)}</dd>
        <dt>Money out</dt>
        <dd data-testid="total-out">{formatMinor(statement.totalOutMinor, currency)}</dd>
        <dt>Closing balance</dt>
        <dd data-testid="closing-balance">{formatMinor(statement.closingBalanceMinor, currency)}</dd>
      </dl>
      {statement.entries.length === 0 ? (
        <p className="muted">No transactions this month.</p>
      ) : (
        <table className="accounts statement-table">
          <thead>
            <tr>
              <th scope="col">Date</th>
              <th scope="col">Details</th>
              <th scope="col">Reference</th>
              <th scope="col" className="amount">Money in</th>
              <th scope="col" className="amount">Money out</th>
              <th scope="col" className="amount">Balance</th>
            </tr>
          </thead>
          <tbody>
            {statement.entries.map((entry) => (
              <tr key={entry.id} data-testid="statement-row">
                <td>{dayFormat.format(entry.postedAt)}</td>
                <td>
                  {entry.counterparty}
                  {entry.transferStatus === "reversed" ? <span className="muted"> (reversed)</span> : null}
                </td>
                <td>{entry.memo ?? ""}</td>
                <td className="amount">{entry.amountMinor > 0n ? formatMinor(entry.amountMinor, currency) : ""}</td>
                <td className="amount">{entry.amountMinor < 0n ? formatMinor(-entry.amountMinor, currency) : ""}</td>
                <td className="amount">{formatMinor(entry.balanceAfterMinor, currency)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <p className="hint">Dates and the month are in UTC.</p>
      <p className="no-print">
        <Link href={`/accounts/${account.id}/statements`}>All statements for this account</Link>
      </p>
    </article>
  );
}
