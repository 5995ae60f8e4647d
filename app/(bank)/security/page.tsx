import type { Metadata } from "next";
import { mySecondFactorStatus } from "@/lib/auth/authenticator-replacement";
import { describeUserAgent } from "@/lib/auth/describe-user-agent";
import { recoveryCodesLowThreshold } from "@/lib/auth/recovery-codes";
import { requireActorOrRedirect } from "@/lib/auth/session";
import { listMySessions } from "@/lib/auth/sessions";
import { listMyLoginHistory, myPasswordCheckInputs } from "@/lib/identity/account-security";
import { revokeSession, signOutOtherSessions } from "./actions";
import { ChangePasswordForm } from "./change-password-form";
import { EmailChangeForm } from "./email-change-form";
import { changeEmail, changeMyPassword } from "./identity-actions";
import { LoginHistorySection } from "./login-history-section";
import { confirmReplacingAuthenticator, regenerateRecoveryCodes, startReplacingAuthenticator } from "./mfa-actions";
import { MfaSection } from "./mfa-section";
import { type SessionRow, SessionsSection } from "./sessions-section";
import { confirmStepUp } from "../step-up-actions";

export const metadata: Metadata = { title: "Security" };

// Times are shown in UTC with the zone named, the same for every viewer and identical between the server render
// and the browser (a local-time rendering would differ between the two).
const timeFormat = new Intl.DateTimeFormat("en-GB", { dateStyle: "medium", timeStyle: "short", timeZone: "UTC" });

export default async function SecurityPage() {
  // Layouts and pages render independently, so the page checks the session itself too.
  const actor = await requireActorOrRedirect();
  const [sessions, loginHistory, passwordCheckInputs, secondFactor] = await Promise.all([
    listMySessions(actor),
    listMyLoginHistory(actor),
    myPasswordCheckInputs(actor),
    mySecondFactorStatus(actor),
  ]);
  const rows: SessionRow[] = sessions.map((session) => ({
    id: session.id,
    createdAt: `${timeFormat.format(session.createdAt)} UTC`,
    lastSeenAt: `${timeFormat.format(session.lastSeenAt)} UTC`,
    ipAddress: session.ipAddress ?? "Unknown",
    browser: describeUserAgent(session.userAgent),
    isCurrent: session.isCurrent,
  }));
  return (
    <>
      <div className="card section">
        <h1>Security</h1>
        <p className="muted">Your password, two-step sign-in, where you are signed in, and your recent sign-ins.</p>
      </div>

      <section className="card section" aria-labelledby="change-password-heading">
        <h2 id="change-password-heading">Change password</h2>
        <p className="muted">Changing your password signs you out everywhere else.</p>
        <ChangePasswordForm changePasswordAction={changeMyPassword} userInputs={passwordCheckInputs} />
      </section>

      {actor.kind === "customer" ? (
        <section className="card section" aria-labelledby="change-email-heading">
          <h2 id="change-email-heading">Email address</h2>
          <p className="muted">
            Your address is {passwordCheckInputs.email}. A new address takes effect when you confirm it from the
            message we send there.
          </p>
          <EmailChangeForm emailChangeAction={changeEmail} />
        </section>
      ) : null}

      {/* Section: the second factor (for customers and staff alike). */}
      <MfaSection
        enrolledSince={secondFactor.enrolledAt ? `${timeFormat.format(secondFactor.enrolledAt)} UTC` : null}
        recoveryCodesLeft={secondFactor.recoveryCodesLeft}
        recoveryCodesLowThreshold={recoveryCodesLowThreshold}
        regenerateRecoveryCodes={regenerateRecoveryCodes}
        startReplacingAuthenticator={startReplacingAuthenticator}
        confirmReplacingAuthenticator={confirmReplacingAuthenticator}
        confirmStepUp={confirmStepUp}
      />

      {/* Section: Where you are signed in. */}
      <SessionsSection sessions={rows} revokeSession={revokeSession} signOutOtherSessions={signOutOtherSessions} />

      <LoginHistorySection entries={loginHistory} />
    </>
  );
}
