import type { Metadata } from "next";
import Link from "next/link";
import { redirect } from "next/navigation";
import { resolveActor } from "@/lib/auth/session";
import { registerCustomer } from "./actions";
import { RegisterForm } from "./register-form";

export const metadata: Metadata = { title: "Open an account" };

export default async function RegisterPage() {
  // Someone already signed in has an account; sending them to it is kinder than a second registration.
  if (await resolveActor()) redirect("/");
  return (
    <main className="shell">
      <div className="card auth-card">
        <p className="brand">Harbour Bank</p>
        <h1>Open an account</h1>
        <RegisterForm registerAction={registerCustomer} />
        <p className="muted">
          Already with us? <Link href="/login">Sign in</Link>
        </p>
      </div>
    </main>
  );
}
