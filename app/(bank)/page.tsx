import type { Metadata } from "next";
import { notFound } from "next/navigation";
import { listMyAccounts } from "@/lib/accounts/list-my-accounts";
import { requireActorOrRedirect } from "@/lib/auth/session";
import { takeLockNotice } from "@/lib/identity/account-security";
import { listRecentActivity, type ActivityItem } from "@/lib/ledger/recent-activity";
import { formatMinor } from "@/lib/money";

export const metadata: Metadata = { title: "Your accounts" };

const kindLabels = { checking: "Checking", savings: "Savings" } as const;

// Times are shown in UTC with the zone named, identical between the server render and every viewer.
const timeFormat = new Intl.DateTimeFormat("en-GB", { dateStyle: "medium", timeStyle: "short", timeZone: "UTC" });

const statusLabels: Record<ActivityItem["status"], string | null> = {
  posted: null,
  pending_review: "Pending review",
  rejected: "Stopped after review",
  reversed: "Reversed",
};

function describeActivity(item: ActivityItem): string {
  const reference = item.memo === "" ? "" : ` · “${item.memo}”`;
  switch (item.direction) {
    case "between_own_accounts":
      return `${item.accountNickname} → ${item.counterpartyLabel}${reference}`;
    case "outgoing":
      return `To ${item.counterpartyLabel} from ${item.accountNickname}${reference}`;
    case "incoming":
      return `${item.counterpartyLabel} into ${item.accountNickname}${reference}`;
  }
}

function signedAmount(item: ActivityItem): string {
  const amount = formatMinor(item.amountMinor, item.currency);
  if (item.direction === "incoming") return `+${amount}`;
  if (item.direction === "outgoing") return `−${amount}`;
  return amount;
}

export default async function DashboardPage() {
  // Layouts and pages render independently, so the page checks the session itself too.
  const actor = await requireActorOrRedirect();
  // Staff sign in to the back office (/admin); the layout already answers them 404 here.
  if (actor.kind !== "customer") notFound();
  const [accounts, activity] = await Promise.all([listMyAccounts(actor), listRecentActivity(actor)]);
  const showLockNotice = await takeLockNotice(actor);
  const anyHeld = accounts.some((account) => account.availableMinor !== account.balanceMinor);
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
                <td className="amount" data-testid="available-balance">
                  {formatMinor(account.availableMinor, account.currency)}
                  {account.availableMinor !== account.balanceMinor ? (
                    <span className="hint" data-testid="held-note">
                      {" "}
                      ({formatMinor(account.balanceMinor - account.availableMinor, account.currency)} held)
                    </span>
                  ) : null}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {anyHeld ? (
        <p className="muted" data-testid="balance-explanation">
          Your balance is the money in the account. Available is what you can spend now: a payment held for review
          has already left it, and stays in the balance until our staff have checked it.
        </p>
      ) : null}
      <h2>Recent activity</h2>
      {activity.length === 0 ? (
        <p className="muted">No money has moved yet.</p>
      ) : (
        <table className="accounts" data-testid="recent-activity">
          <thead>
            <tr>
              <th scope="col">When</th>
              <th scope="col">What</th>
              <th scope="col" className="amount">Amount</th>
            </tr>
          </thead>
          <tbody>
            {activity.map((item) => (
              <tr key={item.transferId} data-testid="activity-row" data-status={item.status}>
                <td>{timeFormat.format(item.occurredAt)} UTC</td>
                <td>
                  {describeActivity(item)}
                  {statusLabels[item.status] ? (
                    <>
                      {" "}
                      <span className="badge">{statusLabels[item.status]}</span>
                    </>
                  ) : null}
                </td>
                <td className="amount">{signedAmount(item)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}
