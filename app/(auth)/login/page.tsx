import type { Metadata } from "next";
import { redirect } from "next/navigation";
import { resolveActor } from "@/lib/auth/session";
import { signInWithPassword } from "./actions";
import { LoginForm } from "./login-form";

export const metadata: Metadata = { title: "Sign in" };

export default async function LoginPage() {
  if (await resolveActor()) redirect("/");
  return (
    <main className="shell">
      <div className="card auth-card">
        <p className="brand">Harbour Bank</p>
        <h1>Sign in</h1>
        <LoginForm signInAction={signInWithPassword} />
      </div>
    </main>
  );
}
