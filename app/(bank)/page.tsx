import type { Metadata } from "next";
import { listMyAccounts } from "@/lib/accounts/list-my-accounts";
import { requireActorOrRedirect } from "@/lib/auth/session";
import { takeLockNotice } from "@/lib/identity/account-security";
import { formatMinor } from "@/lib/money";

export const metadata: Metadata = { title: "Your accounts" };

const kindLabels = { checking: "Checking", savings: "Savings" } as const;

export default async function DashboardPage() {
  // Layouts and pages render independently, so the page checks the session itself too.
  const actor = await requireActorOrRedirect();
  if (actor.kind !== "customer") {
    return (
      <div className="card">
        <h1>Staff sign-in</h1>
        <p className="muted">Staff accounts hold no bank accounts. The back office is not available yet.</p>
      </div>
    );
  }
  const accounts = await listMyAccounts(actor);
  const showLockNotice = await takeLockNotice(actor);
  return (
    <div className="card">
      {showLockNotice ? (
        <p className="alert" role="alert" data-testid="lock-notice">
          Your account was locked after several failed sign-in attempts since you last signed in. If those attempts
          were not yours, change your password on the Security page.
        </p>
      ) : null}
      <h1>Your accounts</h1>
      {accounts.length === 0 ? (
        <p className="muted">You have no accounts yet.</p>
      ) : (
        <table className="accounts" data-testid="accounts">
          <thead>
            <tr>
              <th scope="col">Account</th>
              <th scope="col">Number</th>
              <th scope="col" className="amount">Balance</th>
              <th scope="col" className="amount">Available</th>
            </tr>
          </thead>
          <tbody>
            {accounts.map((account) => (
              <tr key={account.id} data-testid="account-row" data-account-number={account.accountNumber}>
                <td>
                  {account.nickname} <span className="muted">· {kindLabels[account.kind]}</span>
                  {account.status !== "active" ? <span className="muted"> ({account.status})</span> : null}
                </td>
                <td>{account.accountNumber}</td>
                <td className="amount">{formatMinor(account.balanceMinor, account.currency)}</td>
                <td className="amount">{formatMinor(account.availableMinor, account.currency)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}
