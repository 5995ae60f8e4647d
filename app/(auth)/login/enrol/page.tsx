import type { Metadata } from "next";
import Link from "next/link";
import { redirect } from "next/navigation";
import { restartSignInPath } from "@/lib/auth/browser-sign-in";
import { readSignInTicketCookies } from "@/lib/auth/sign-in-ticket-cookies";
import { readSignInTicket, startTicketEnrolment } from "@/lib/auth/sign-in-tickets";
import { env } from "@/lib/env";
import { sameOriginRedirectPath } from "@/lib/security/safe-redirect";
import { confirmEnrolment, continueAfterEnrolment } from "./actions";
import { EnrolForm } from "./enrol-form";

export const metadata: Metadata = { title: "Set up your authenticator" };

type SearchParams = Record<string, string | string[] | undefined>;

/**
 * A first sign-in without an authenticator: every customer enrols one before the first session exists, because
 * a second factor is required for everyone. Reachable only with a live ticket of this browser. Each visit makes
 * a new secret (kept encrypted on the ticket until a first code confirms it); a password alone can never put an
 * authenticator on an account that already has one (the data layer refuses it).
 */
export default async function EnrolPage({ searchParams }: { searchParams: Promise<SearchParams> }) {
  const parameters = await searchParams;
  const candidate = Array.isArray(parameters.redirectTo) ? parameters.redirectTo[0] : parameters.redirectTo;
  const redirectTo = sameOriginRedirectPath(candidate, env().appOrigin);
  const cookies = await readSignInTicketCookies();
  const ticket = cookies ? await readSignInTicket(cookies.token, cookies.browserBinding) : null;
  if (!cookies || !ticket) redirect(restartSignInPath);
  const alreadyConfirmed = ticket.secondFactorVerified;
  if (ticket.totpEnrolled && !alreadyConfirmed) redirect(`/login/second-factor?redirectTo=${encodeURIComponent(redirectTo)}`);
  // Staff reset this customer's second factor: a password alone must not put a new authenticator on the
  // account, so the only way on is the single-use link emailed to them (app/(auth)/reenrol-authenticator).
  if (ticket.mfaReenrolmentRequired && !alreadyConfirmed) {
    return (
      <main className="shell">
        <div className="card auth-card">
          <p className="brand">Harbour Bank</p>
          <h1>Your second factor was reset</h1>
          <p className="alert" role="alert" data-testid="mfa-reset-pending">
            Your authenticator app was reset by our staff. To set up a new one, use the link we sent to your email
            address; it works once. You cannot sign in until you have done so.
          </p>
          <p>
            <Link href="/login">Back to sign-in</Link>
          </p>
        </div>
      </main>
    );
  }
  const provisioning = alreadyConfirmed ? null : await startTicketEnrolment(cookies.token, cookies.browserBinding);
  if (!alreadyConfirmed && !provisioning) redirect(restartSignInPath);
  return (
    <main className="shell">
      <div className="card auth-card">
        <p className="brand">Harbour Bank</p>
        <h1>Set up your authenticator</h1>
        {provisioning ? (
          <>
            <p>
              Harbour Bank asks for a code from an authenticator app at every sign-in. Scan this QR code with the
              app, or type the secret key into it, then enter the six-digit code it shows.
            </p>
            {/* A data: URL made on the server; next/image would add nothing to an inline SVG. */}
            {/* eslint-disable-next-line @next/next/no-img-element */}
            <img src={provisioning.qrCodeDataUrl} alt="QR code for your authenticator app" width={200} height={200} />
            <p>
              Secret key: <code className="secret-key" data-testid="totp-secret">{provisioning.secretForManualEntry}</code>
            </p>
          </>
        ) : null}
        <EnrolForm
          confirmAction={confirmEnrolment}
          continueAction={continueAfterEnrolment}
          redirectTo={redirectTo}
          alreadyConfirmed={alreadyConfirmed}
        />
        <p>
          <Link href="/login">Start again</Link>
        </p>
      </div>
    </main>
  );
}
