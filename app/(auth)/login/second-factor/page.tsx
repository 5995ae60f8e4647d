import type { Metadata } from "next";
import Link from "next/link";
import { redirect } from "next/navigation";
import { restartSignInPath } from "@/lib/auth/browser-sign-in";
import { readSignInTicketCookies } from "@/lib/auth/sign-in-ticket-cookies";
import { readSignInTicket } from "@/lib/auth/sign-in-tickets";
import { env } from "@/lib/env";
import { sameOriginRedirectPath } from "@/lib/security/safe-redirect";
import { verifySignInCode } from "./actions";
import { SecondFactorForm } from "./second-factor-form";

export const metadata: Metadata = { title: "Enter your code" };

type SearchParams = Record<string, string | string[] | undefined>;

/**
 * The second step of sign-in for a customer or staff member with an authenticator. Reachable only with a live
 * ticket of this browser (the cookies the password step set); anything else starts again at /login.
 */
export default async function SecondFactorPage({ searchParams }: { searchParams: Promise<SearchParams> }) {
  const parameters = await searchParams;
  const candidate = Array.isArray(parameters.redirectTo) ? parameters.redirectTo[0] : parameters.redirectTo;
  const redirectTo = sameOriginRedirectPath(candidate, env().appOrigin);
  const cookies = await readSignInTicketCookies();
  const ticket = cookies ? await readSignInTicket(cookies.token, cookies.browserBinding) : null;
  if (!ticket) redirect(restartSignInPath);
  if (!ticket.totpEnrolled) redirect(`/login/enrol?redirectTo=${encodeURIComponent(redirectTo)}`);
  return (
    <main className="shell">
      <div className="card auth-card">
        <p className="brand">Harbour Bank</p>
        <h1>Enter your code</h1>
        <p>Open your authenticator app and enter the code it shows for Harbour Bank.</p>
        <SecondFactorForm verifyAction={verifySignInCode} redirectTo={redirectTo} />
        <p>
          <Link href="/login">Start again</Link>
        </p>
      </div>
    </main>
  );
}
