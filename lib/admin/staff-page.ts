import "server-only";
import type { Metadata } from "next";
import { notFound } from "next/navigation";
import { adminPagePermissions, roleHasPermission, type StaffPermission } from "@/lib/admin/permissions";
import { requireStaffPermission } from "@/lib/admin/staff-guard";
import type { StaffSessionActor } from "@/lib/admin/staff-action";
import { resolveActor } from "@/lib/auth/session";
import { BankError } from "@/lib/errors";

/**
 * For back-office pages and the admin layout: the signed-in staff member holding `permission`, or Next's 404.
 * A signed-out visitor, a customer and a staff member whose role lacks the permission all see the site's
 * ordinary "Page not found", never a redirect to the sign-in page: a redirect would tell a stranger that
 * something lives at this address.
 */
export async function requireStaffPageActor(permission: StaffPermission): Promise<StaffSessionActor> {
  const actor = await resolveActor();
  if (!actor) notFound();
  try {
    return { ...requireStaffPermission(actor, permission), sessionId: actor.sessionId };
  } catch (error) {
    if (error instanceof BankError) notFound();
    throw error;
  }
}

/**
 * A back-office page's metadata (its title), given only to staff who may open the page. A page's static
 * `metadata` would still reach the 404 that everyone else gets (Next resolves it alongside the page), and a
 * title like "Overview" would tell that 404 apart from any other. Use as
 * `export const generateMetadata = staffPageMetadata("Overview", "overview.read");`.
 */
export function staffPageMetadata(title: string, permission: StaffPermission): () => Promise<Metadata> {
  return async () => {
    const actor = await resolveActor();
    return actor?.kind === "staff" && roleHasPermission(actor.role, permission) ? { title } : {};
  };
}

export interface StaffNavigationLink {
  href: string;
  label: string;
}

// The back office's main sections, in the order the header shows them. Each link's permission is the one its
// page is registered with in adminPagePermissions, so the menu and the pages cannot disagree.
const navigationLinks: readonly StaffNavigationLink[] = [
  { href: "/admin", label: "Overview" },
  { href: "/admin/customers", label: "Customers" },
  { href: "/admin/transfers", label: "Held transfers" },
  { href: "/admin/mfa-resets", label: "Second-factor resets" },
  { href: "/admin/staff", label: "Staff" },
  { href: "/admin/audit", label: "Audit trail" },
];

/** The header's links that this staff member's role may open (a link to a 404 would only confuse). */
export function staffNavigation(actor: Pick<StaffSessionActor, "role">): StaffNavigationLink[] {
  return navigationLinks.filter((link) => {
    const permission = adminPagePermissions[link.href];
    return permission !== undefined && roleHasPermission(actor.role, permission);
  });
}
