import Link from "next/link";
import type { ReactNode } from "react";
import { SignOutForm } from "@/app/(bank)/sign-out-form";
import { SessionTimeoutDialog } from "@/app/components/session-timeout-dialog";
import { staffNavigation } from "@/lib/admin/staff-page";
import { resolveSession, sessionStatusOf } from "@/lib/auth/session";

export default async function AdminLayout({ children }: { children: ReactNode }) {
  // Signed-out visitors and customers get the site's ordinary 404, never a redirect to /login: the back office
  // does not reveal that it exists. The 404 itself comes from the page, which checks its own permission
  // (requireStaffPageActor; layouts and pages render independently, and a layout is not re-rendered on every
  // navigation): a notFound() thrown here, in a layout, makes Next answer a bare error shell instead of the
  // site's "Page not found", which would tell the back office apart. So for anyone but staff this layout adds
  // nothing around the page, and no header, metadata or link of the back office reaches them.
  const resolved = await resolveSession();
  const actor = resolved?.actor;
  if (!resolved || !actor || actor.kind !== "staff") return children;
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
