import Link from "next/link";
import { notFound } from "next/navigation";
import type { ReactNode } from "react";
import { SessionTimeoutDialog } from "@/app/components/session-timeout-dialog";
import { requireSessionOrRedirect, sessionStatusOf } from "@/lib/auth/session";
import { SignOutForm } from "./sign-out-form";

export default async function BankLayout({ children }: { children: ReactNode }) {
  // proxy.ts already sent cookie-less visitors to /login; this is the real check. This render is activity, so
  // the status handed to the timeout dialog already carries the deadline it pushed back.
  const { actor, session } = await requireSessionOrRedirect();
  // The customer pages do not exist for staff (they hold no bank accounts; their pages are under /admin). The
  // same 404 as for any unknown page, and customers see no change.
  if (actor.kind !== "customer") notFound();
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
