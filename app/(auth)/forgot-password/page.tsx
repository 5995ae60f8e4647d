import type { Metadata } from "next";
import Link from "next/link";
import { requestReset } from "./actions";
import { ForgotPasswordForm } from "./forgot-password-form";

export const metadata: Metadata = { title: "Reset your password" };

export default function ForgotPasswordPage() {
  return (
    <main className="shell">
      <div className="card auth-card">
        <p className="brand">Harbour Bank</p>
        <h1>Reset your password</h1>
        <ForgotPasswordForm requestResetAction={requestReset} />
        <p>
          <Link href="/login">Back to sign in</Link>
        </p>
      </div>
    </main>
  );
}
