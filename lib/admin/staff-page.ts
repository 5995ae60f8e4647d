import "server-only";
import { notFound } from "next/navigation";
import type { StaffPermission } from "@/lib/admin/permissions";
import type { StaffSessionActor } from "@/lib/admin/staff-action";
import { requireStaffPermission } from "@/lib/admin/staff-guard";
import { resolveActor } from "@/lib/auth/session";
import { isBankError } from "@/lib/errors";

/**
 * For back-office pages: the signed-in staff member if their role has the permission, and Next's not-found page
 * for everyone else (signed out, customers, staff without the permission), so that nobody learns the page
 * exists. The data-layer function the page calls checks the same permission again.
 */
export async function requireStaffPageActor(permission: StaffPermission): Promise<StaffSessionActor> {
  const actor = await resolveActor();
  if (!actor) notFound();
  try {
    return { ...requireStaffPermission(actor, permission), sessionId: actor.sessionId };
  } catch (error) {
    if (isBankError(error) && error.code === "not_found") notFound();
    throw error;
  }
}
