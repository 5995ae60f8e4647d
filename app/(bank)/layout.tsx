import Link from "next/link";
import type { ReactNode } from "react";
import { SessionTimeoutDialog } from "@/app/components/session-timeout-dialog";
import { requireSessionOrRedirect, sessionStatusOf } from "@/lib/auth/session";
import { SignOutForm } from "./sign-out-form";

export default async function BankLayout({ children }: { children: ReactNode }) {
  // proxy.ts already sent cookie-less visitors to /login; this is the real check. This render is activity, so
  // the status handed to the timeout dialog already carries the deadline it pushed back.
  const { session } = await requireSessionOrRedirect();
  return (
    <>
      <header className="topbar">
        <span className="brand">Harbour Bank</span>
        <nav className="topnav" aria-label="Main">
          <Link href="/">Accounts</Link>
          <Link href="/move-money">Move money</Link>
          <Link href="/payees">Payees</Link>
          <Link href="/history">History</Link>
          <Link href="/profile">Profile</Link>
          <Link href="/security">Security</Link>
        </nav>
        <SignOutForm />
      </header>
      <main className="shell">{children}</main>
      <SessionTimeoutDialog initialStatus={sessionStatusOf(session)} />
    </>
  );
}
