import type { Metadata } from "next";
import Link from "next/link";
import { notFound } from "next/navigation";
import { z } from "zod";
import { requireActorOrRedirect } from "@/lib/auth/session";
import { isBankError } from "@/lib/errors";
import { listStatementMonths } from "@/lib/ledger/statements";

export const metadata: Metadata = { title: "Statements" };

const monthFormat = new Intl.DateTimeFormat("en-GB", { month: "long", year: "numeric", timeZone: "UTC" });

/** The months an account has statements for. Someone else's account, or no account, is a 404. */
export default async function StatementIndexPage({ params }: { params: Promise<{ accountId: string }> }) {
  const actor = await requireActorOrRedirect();
  const { accountId } = await params;
  if (actor.kind !== "customer" || !z.uuid().safeParse(accountId).success) notFound();
  let statementMonths: Awaited<ReturnType<typeof listStatementMonths>>;
  try {
    statementMonths = await listStatementMonths(actor, accountId);
  } catch (error) {
    if (isBankError(error) && error.code === "not_found") notFound();
    throw error;
  }
  const { account, months } = statementMonths;
  return (
    <div className="card">
      <h1>Statements</h1>
      <p className="muted">
        {account.nickname} · {account.accountNumber}
      </p>
      {months.length === 0 ? (
        <p className="muted">No statements yet.</p>
      ) : (
        <ul data-testid="statement-months">
          {months.map((month) => (
            <li key={month}>
              <Link href={`/accounts/${account.id}/statements/${month}`}>{monthFormat.format(new Date(`${month}-01T00:00:00Z`))}</Link>
            </li>
          ))}
        </ul>
      )}
      <p>
        <Link href={`/history?account=${account.id}`}>History of this account</Link>
      </p>
    </div>
  );
}
