import type { Metadata } from "next";
import { confirmEmail } from "./actions";
import { ConfirmEmailForm } from "./confirm-email-form";

export const metadata: Metadata = { title: "Confirm your email address", referrer: "no-referrer" };

type SearchParams = Record<string, string | string[] | undefined>;

export default async function VerifyEmailPage({ searchParams }: { searchParams: Promise<SearchParams> }) {
  const parameters = await searchParams;
  const token = typeof parameters.token === "string" ? parameters.token.slice(0, 128) : "";
  return (
    <main className="shell">
      <div className="card auth-card">
        <p className="brand">Harbour Bank</p>
        <h1>Confirm your email address</h1>
        <ConfirmEmailForm confirmAction={confirmEmail} token={token} />
      </div>
    </main>
  );
}
