import type { Metadata } from "next";
import Link from "next/link";
import { redirect } from "next/navigation";
import { resolveActor } from "@/lib/auth/session";
import { env } from "@/lib/env";
import { formatDuration } from "@/lib/format-duration";
import { sameOriginRedirectPath } from "@/lib/security/safe-redirect";
import { maximumEmailLength } from "@/lib/validation/fields";
import { signInWithPassword } from "./actions";
import { LoginForm } from "./login-form";

export const metadata: Metadata = { title: "Sign in" };

type SearchParams = Record<string, string | string[] | undefined>;

/** The first value of a query parameter that may be repeated, or undefined. */
function firstValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/**
 * Why the visitor is here, when the timeout dialog or a dead sign-in ticket sent them: a plain sentence.
 * Only the known reasons produce text; anything else in the query is ignored.
 */
function signedOutNotice(reason: string | undefined): string | null {
  const configuration = env();
  if (reason === "timeout") {
    return `You were signed out because you were inactive for ${formatDuration(configuration.sessionIdleTimeoutSeconds)}.`;
  }
  if (reason === "expired") {
    return `You were signed out because sessions end ${formatDuration(configuration.sessionAbsoluteLifetimeSeconds)} after sign-in.`;
  }
  if (reason === "ticket") {
    return "Your sign-in was not completed in time or was already used. Please sign in again.";
  }
  return null;
}

export default async function LoginPage({ searchParams }: { searchParams: Promise<SearchParams> }) {
  const parameters = await searchParams;
  // `callbackUrl` comes from a link anyone can craft: only a path on this site survives, anything else is "/".
  // Auth.js itself sends absolute URLs on our own origin here, which are reduced to their path.
  const redirectTo = sameOriginRedirectPath(firstValue(parameters.callbackUrl), env().appOrigin);
  if (await resolveActor()) redirect(redirectTo);
  // `email` pre-fills the form (for example from a "sign in again" link). React escapes it as an attribute
  // value, so markup in it stays text; the bound keeps a crafted link from inflating the page.
  const email = firstValue(parameters.email)?.slice(0, maximumEmailLength) ?? "";
  const notice = signedOutNotice(firstValue(parameters.reason));
  return (
    <main className="shell">
      <div className="card auth-card">
        <p className="brand">Harbour Bank</p>
        <h1>Sign in</h1>
        {notice ? (
          <p className="notice" role="status" data-testid="signed-out-notice">
            {notice}
          </p>
        ) : null}
        <LoginForm signInAction={signInWithPassword} redirectTo={redirectTo} defaultEmail={email} />
        <p>
          <Link href="/forgot-password">Forgot your password?</Link>
        </p>
        <p>
          New to Harbour Bank? <Link href="/register">Open an account</Link>
        </p>
      </div>
    </main>
  );
}
