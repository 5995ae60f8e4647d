import type { Metadata } from "next";
import Link from "next/link";
import type { ReactNode } from "react";
import { SignOutForm } from "@/app/(bank)/sign-out-form";
import { SessionTimeoutDialog } from "@/app/components/session-timeout-dialog";
import { requireAnyStaffPageActor, staffNavigation } from "@/lib/admin/staff-page";
import { resolveSession, sessionStatusOf } from "@/lib/auth/session";

export const metadata: Metadata = { title: { template: "%s · Back office", default: "Back office" } };

export default async function AdminLayout({ children }: { children: ReactNode }) {
  // Signed-out visitors and customers get the site's ordinary 404, never a redirect to /login: the back office
  // does not reveal that it exists. Each page checks its own permission again (layouts and pages render
  // independently, and a layout is not re-rendered on every navigation).
  const actor = await requireAnyStaffPageActor();
  const resolved = await resolveSession();
  if (!resolved) return null;
  return (
    <>
      <header className="topbar">
        <span className="brand">
          Harbour Bank <span className="muted">· Back office</span>
        </span>
        <nav className="topnav" aria-label="Back office">
          {staffNavigation(actor).map((link) => (
            <Link key={link.href} href={link.href}>
              {link.label}
            </Link>
          ))}
        </nav>
        <SignOutForm />
      </header>
      <main className="shell">{children}</main>
      <SessionTimeoutDialog initialStatus={sessionStatusOf(resolved.session)} />
    </>
  );
}
