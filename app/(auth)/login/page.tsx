import type { Metadata } from "next";
import Link from "next/link";
import { redirect } from "next/navigation";
import { resolveActor } from "@/lib/auth/session";
import { env } from "@/lib/env";
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

export default async function LoginPage({ searchParams }: { searchParams: Promise<SearchParams> }) {
  const parameters = await searchParams;
  // `callbackUrl` comes from a link anyone can craft: only a path on this site survives, anything else is "/".
  // Auth.js itself sends absolute URLs on our own origin here, which are reduced to their path.
  const redirectTo = sameOriginRedirectPath(firstValue(parameters.callbackUrl), env().appOrigin);
  if (await resolveActor()) redirect(redirectTo);
  // `email` pre-fills the form (for example from a "sign in again" link). React escapes it as an attribute
  // value, so markup in it stays text; the bound keeps a crafted link from inflating the page.
  const email = firstValue(parameters.email)?.slice(0, maximumEmailLength) ?? "";
  return (
    <main className="shell">
      <div className="card auth-card">
        <p className="brand">Harbour Bank</p>
        <h1>Sign in</h1>
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
