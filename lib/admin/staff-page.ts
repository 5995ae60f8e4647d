import "server-only";
import { notFound } from "next/navigation";
import type { StaffPermission } from "@/lib/admin/permissions";
import type { StaffSessionActor } from "@/lib/admin/staff-action";
import { requireStaffPermission } from "@/lib/admin/staff-guard";
import { resolveActor } from "@/lib/auth/session";
import { isBankError } from "@/lib/errors";

/**
 * The staff actor of a back-office page, or a 404 for everyone not allowed (signed out, customers, staff whose
 * role lacks the permission): pages answer exactly as the data layer does, so nobody learns the page exists.
 */
export async function requireStaffPageActor(permission: StaffPermission): Promise<StaffSessionActor> {
  const actor = await resolveActor();
  if (!actor) notFound();
  try {
    return { ...requireStaffPermission(actor, permission), sessionId: actor.sessionId };
  } catch (error) {
    if (isBankError(error)) notFound();
    throw error;
  }
}
