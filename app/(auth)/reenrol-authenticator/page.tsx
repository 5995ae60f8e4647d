import type { Metadata } from "next";
import { isMfaReenrolmentTokenUsable } from "@/lib/auth/mfa-reenrolment";
import { completeReenrolment, startReenrolment } from "./actions";
import { ReenrolForm } from "./reenrol-form";

export const metadata: Metadata = { title: "Set up a new authenticator", referrer: "no-referrer" };

type SearchParams = Record<string, string | string[] | undefined>;

/**
 * The single-use link emailed after two staff members reset the customer's second factor: the only way to put
 * a new authenticator on the account (a password sign-in refuses to). Looking at the page changes nothing; the
 * token is spent only when the new authenticator is confirmed.
 */
export default async function ReenrolAuthenticatorPage({ searchParams }: { searchParams: Promise<SearchParams> }) {
  const parameters = await searchParams;
  const token = typeof parameters.token === "string" ? parameters.token.slice(0, 128) : "";
  const usable = await isMfaReenrolmentTokenUsable(token);
  return (
    <main className="shell">
      <div className="card auth-card">
        <p className="brand">Harbour Bank</p>
        <h1>Set up a new authenticator</h1>
        {usable ? <p>Your second factor was reset. Confirm your password, then set up your authenticator app again.</p> : null}
        {/* Rendered either way, so that the recovery codes it shows after the enrolment (which spends the link)
            survive the page's refresh. */}
        <ReenrolForm token={token} usable={usable} startAction={startReenrolment} completeAction={completeReenrolment} />
      </div>
    </main>
  );
}
