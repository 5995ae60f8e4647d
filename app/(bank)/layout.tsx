import type { ReactNode } from "react";
import { requireActorOrRedirect } from "@/lib/auth/session";
import { SignOutForm } from "./sign-out-form";

export default async function BankLayout({ children }: { children: ReactNode }) {
  // proxy.ts already sent cookie-less visitors to /login; this is the real check.
  await requireActorOrRedirect();
  return (
    <>
      <header className="topbar">
        <span className="brand">Harbour Bank</span>
        <SignOutForm />
      </header>
      <main className="shell">{children}</main>
    </>
  );
}
