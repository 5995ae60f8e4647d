import Link from "next/link";
import { notFound } from "next/navigation";
import { Fragment } from "react";
import { LoginHistorySection } from "@/app/(bank)/security/login-history-section";
import { confirmStepUp } from "@/app/(bank)/step-up-actions";
import { requestMfaResetAction } from "@/app/admin/mfa-resets/actions";
import { MfaResetRequestForm } from "@/app/admin/mfa-resets/mfa-reset-request-form";
import { readCustomerDetail, type CustomerDetail } from "@/lib/admin/customers/read-customer-detail";
import { roleHasPermission } from "@/lib/admin/permissions";
import { requireStaffPageActor, staffPageMetadata } from "@/lib/admin/staff-page";
import { describeUserAgent } from "@/lib/auth/describe-user-agent";
import { BankError } from "@/lib/errors";
import { formatMinor } from "@/lib/money";
import { revealableFieldLabels } from "@/lib/validation/admin-customers";
import {
  clearCustomerSignInLock,
  confirmFreezeStepUp,
  confirmRevealStepUp,
  revealCustomerField,
  revokeAllCustomerSessions,
  setCustomerAccountFrozen,
} from "../actions";
import { CustomerCareButton } from "./customer-care-button";
import { FreezeAccountForm } from "./freeze-account-form";
import { RevealField } from "./reveal-field";
import { SignInLockSection } from "./sign-in-lock-section";

export const generateMetadata = staffPageMetadata("Customer", "customers.read");

// Times in UTC with the zone named, identical between the server render and every viewer.
const timeFormat = new Intl.DateTimeFormat("en-GB", { dateStyle: "medium", timeStyle: "short", timeZone: "UTC" });

const kindLabels = { checking: "Checking", savings: "Savings" } as const;
const statusLabels = { active: "Active", frozen: "Frozen", closed: "Closed" } as const;
const transferStatusLabels = { posted: "Posted", held: "Held for review", rejected: "Rejected", reversed: "Reversed" } as const;
const directionLabels = { out: "Out", in: "In", own: "Between own accounts" } as const;

interface CustomerPageProps {
  params: Promise<{ customerId: string }>;
}

export default async function CustomerPage({ params }: CustomerPageProps) {
  const actor = await requireStaffPageActor("customers.read");
  const { customerId } = await params;
  let detail: CustomerDetail;
  try {
    detail = await readCustomerDetail(actor, customerId);
  } catch (error) {
    if (error instanceof BankError && error.code === "not_found") notFound();
    throw error;
  }
  // The controls shown follow the same matrix the actions and the data layer check; hiding one is courtesy,
  // the check is theirs.
  const may = {
    reveal: roleHasPermission(actor.role, "customers.reveal_pii"),
    clearLock: roleHasPermission(actor.role, "customers.clear_lockout"),
    revokeSessions: roleHasPermission(actor.role, "customers.revoke_sessions"),
    freeze: roleHasPermission(actor.role, "accounts.freeze"),
    requestMfaReset: roleHasPermission(actor.role, "mfa_reset.request"),
  };

  return (
    <>
      <div className="card section">
        <p>
          <Link href="/admin/customers">← Find another customer</Link>
        </p>
        <h1>Customer</h1>
        <p className="muted">
          Customer id <code>{detail.id}</code> · joined {timeFormat.format(detail.createdAt)} UTC
          {detail.emailVerified ? null : <span className="badge badge-warning">Email not confirmed</span>}
          {detail.authenticatorEnrolled ? null : <span className="badge badge-warning">No authenticator</span>}
        </p>
      </div>

      {/* Always rendered (it draws nothing while there is no lock), so that its "cleared" confirmation survives
          the refresh that follows the action. */}
      <SignInLockSection
        customerId={detail.id}
        locked={detail.locked}
        lockedUntilText={detail.lockedUntil ? `until ${timeFormat.format(detail.lockedUntil)} UTC` : "until cleared"}
        mayClear={may.clearLock}
        clearCustomerSignInLock={clearCustomerSignInLock}
      />

      <section className="card section" aria-labelledby="profile-heading">
        <h2 id="profile-heading">Profile</h2>
        <p className="muted">
          Personal data is masked. Revealing a field asks for your reason and a code from your authenticator app, shows
          the value for 30 seconds, and is recorded in the audit trail.
        </p>
        <dl className="profile-details">
          {detail.profile.map((entry) =>
            entry.masked !== null && may.reveal ? (
              <RevealField
                key={entry.field}
                customerId={detail.id}
                field={entry.field}
                label={revealableFieldLabels[entry.field]}
                masked={entry.masked}
                revealCustomerField={revealCustomerField}
                confirmRevealStepUp={confirmRevealStepUp}
              />
            ) : (
              <Fragment key={entry.field}>
                <dt>{revealableFieldLabels[entry.field]}</dt>
                <dd data-testid={`profile-${entry.field}`}>{entry.masked ?? <span className="muted">Not on file</span>}</dd>
              </Fragment>
            ),
          )}
        </dl>
      </section>

      <section className="card section" aria-labelledby="accounts-heading">
        <h2 id="accounts-heading">Accounts</h2>
        {detail.accounts.length === 0 ? (
          <p className="muted">No accounts.</p>
        ) : (
          <table className="accounts" data-testid="customer-accounts">
            <thead>
              <tr>
                <th scope="col">Number</th>
                <th scope="col">Type</th>
                <th scope="col">Status</th>
                <th scope="col">Posted</th>
                <th scope="col">Available</th>
                <th scope="col">
                  <span className="visually-hidden">Action</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {detail.accounts.map((account) => (
                <tr key={account.id}>
                  <td>{account.accountNumber}</td>
                  <td>{kindLabels[account.kind]}</td>
                  <td>{statusLabels[account.status]}</td>
                  <td>{formatMinor(account.postedMinor, account.currency)}</td>
                  <td>{formatMinor(account.availableMinor, account.currency)}</td>
                  <td>
                    {may.freeze && account.status !== "closed" ? (
                      <FreezeAccountForm
                        accountId={account.id}
                        accountNumber={account.accountNumber}
                        freeze={account.status === "active"}
                        setCustomerAccountFrozen={setCustomerAccountFrozen}
                        confirmFreezeStepUp={confirmFreezeStepUp}
                      />
                    ) : null}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>

      <section className="card section" aria-labelledby="transfers-heading">
        <h2 id="transfers-heading">Recent transfers</h2>
        {detail.recentTransfers.length === 0 ? (
          <p className="muted">No transfers yet.</p>
        ) : (
          <table className="accounts" data-testid="customer-transfers">
            <thead>
              <tr>
                <th scope="col">Time (UTC)</th>
                <th scope="col">Direction</th>
                <th scope="col">From</th>
                <th scope="col">To</th>
                <th scope="col">Amount</th>
                <th scope="col">Status</th>
              </tr>
            </thead>
            <tbody>
              {detail.recentTransfers.map((transfer) => (
                <tr key={transfer.id}>
                  <td>{timeFormat.format(transfer.createdAt)}</td>
                  <td>{directionLabels[transfer.direction]}</td>
                  <td>{transfer.debitAccountNumber}</td>
                  <td>{transfer.creditAccountNumber}</td>
                  <td>{formatMinor(transfer.amountMinor, transfer.currency)}</td>
                  <td>{transferStatusLabels[transfer.status]}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>

      <section className="card section" aria-labelledby="customer-sessions-heading">
        <h2 id="customer-sessions-heading">Sessions</h2>
        {detail.sessions.length === 0 ? (
          <p className="muted">The customer is not signed in anywhere.</p>
        ) : (
          <table className="sessions" data-testid="customer-sessions">
            <thead>
              <tr>
                <th scope="col">Browser</th>
                <th scope="col">IP address</th>
                <th scope="col">Signed in (UTC)</th>
                <th scope="col">Last active (UTC)</th>
              </tr>
            </thead>
            <tbody>
              {detail.sessions.map((session) => (
                <tr key={session.id}>
                  <td>{describeUserAgent(session.userAgent)}</td>
                  <td>{session.ipAddress ?? "Unknown"}</td>
                  <td>{timeFormat.format(session.createdAt)}</td>
                  <td>{timeFormat.format(session.lastSeenAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        {may.revokeSessions ? (
          <CustomerCareButton
            customerId={detail.id}
            label="Revoke all sessions"
            pendingLabel="Revoking…"
            successMessage="Every session is revoked: the customer is signed out on their next request."
            action={revokeAllCustomerSessions}
          />
        ) : null}
      </section>

      <LoginHistorySection entries={detail.loginHistory} />

      {may.requestMfaReset && detail.authenticatorEnrolled ? (
        <section className="card section" aria-labelledby="mfa-reset-heading">
          <h2 id="mfa-reset-heading">Lost authenticator</h2>
          <p className="muted">
            A reset needs your reason and a second staff member&apos;s approval (on{" "}
            <Link href="/admin/mfa-resets">Second-factor resets</Link>); the customer then enrols again through a
            link sent to their email.
          </p>
          <MfaResetRequestForm customerId={detail.id} requestAction={requestMfaResetAction} confirmStepUp={confirmStepUp} />
        </section>
      ) : null}
    </>
  );
}
