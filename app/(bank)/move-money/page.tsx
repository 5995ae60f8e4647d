import type { Metadata } from "next";
import { listMyAccounts } from "@/lib/accounts/list-my-accounts";
import { requireActorOrRedirect } from "@/lib/auth/session";
import { env } from "@/lib/env";
import { formatDuration } from "@/lib/format-duration";
import { bankCurrency } from "@/lib/accounts/bank-currency";
import { formatMinor } from "@/lib/money";
import { listMyPayees } from "@/lib/payees/list-my-payees";
import { confirmStepUp } from "../step-up-actions";
import { moveMoney } from "./actions";
import { MoveMoneyForm } from "./move-money-form";

export const metadata: Metadata = { title: "Move money" };

export default async function MoveMoneyPage() {
  // Layouts and pages render independently, so the page checks the session itself too.
  const actor = await requireActorOrRedirect();
  if (actor.kind !== "customer") {
    return (
      <div className="card">
        <h1>Move money</h1>
        <p className="muted">Staff accounts hold no bank accounts.</p>
      </div>
    );
  }
  const [accounts, payees] = await Promise.all([listMyAccounts(actor), listMyPayees(actor)]);
  const limits = env().transferLimits;
  const money = (amountMinor: bigint) => formatMinor(amountMinor, bankCurrency);
  return (
    <>
      <div className="card section">
        <h1>Move money</h1>
        <MoveMoneyForm
          accounts={accounts
            .filter((account) => account.status === "active")
            .map((account) => ({
              id: account.id,
              nickname: account.nickname,
              accountNumber: account.accountNumber,
              currency: account.currency,
              availableMinor: account.availableMinor,
            }))}
          payees={payees.map((payee) => ({ id: payee.id, name: payee.name, accountNumber: payee.accountNumber }))}
          moveMoney={moveMoney}
          confirmStepUp={confirmStepUp}
        />
      </div>
      <section className="card section" aria-labelledby="limits-heading" data-testid="transfer-limits">
        <h2 id="limits-heading">Limits and checks</h2>
        <ul>
          <li>
            Payments above {money(limits.confirmationAboveMinor)}, including moves between your own accounts, need a code
            from your authenticator app that confirms that exact payment. So does the first payment to a payee saved in
            the last {formatDuration(limits.newPayeeConfirmationSeconds)}.
          </li>
          <li>
            Payments to other people above {money(limits.reviewAboveMinor)} are held for review: the money leaves your
            available balance at once, and is sent when our staff have checked it (or comes back if they stop it).
          </li>
          <li>
            A single payment to another person can be at most {money(limits.maximumMinor)}, and at most{" "}
            {money(limits.dailyOutgoingMinor)} a day can leave your accounts. Moves between your own accounts do not
            count towards these limits.
          </li>
        </ul>
      </section>
    </>
  );
}
