import type { Metadata } from "next";
import Link from "next/link";
import { isPasswordResetTokenUsable } from "@/lib/identity/password-reset";
import { completePasswordReset } from "./actions";
import { ResetForm } from "./reset-form";

export const metadata: Metadata = { title: "Choose a new password", referrer: "no-referrer" };

type SearchParams = Record<string, string | string[] | undefined>;

export default async function ResetPasswordPage({ searchParams }: { searchParams: Promise<SearchParams> }) {
  const parameters = await searchParams;
  const token = typeof parameters.token === "string" ? parameters.token.slice(0, 128) : "";
  // Looking at the page changes nothing; the token is used up only when the form is submitted.
  const usable = await isPasswordResetTokenUsable(token);
  return (
    <main className="shell">
      <div className="card auth-card">
        <p className="brand">Harbour Bank</p>
        <h1>Choose a new password</h1>
        {usable ? (
          <ResetForm resetAction={completePasswordReset} token={token} />
        ) : (
          <p className="alert" role="alert">
            This reset link is invalid, has already been used or has expired.{" "}
            <Link href="/forgot-password">Ask for a new one</Link>.
          </p>
        )}
      </div>
    </main>
  );
}
