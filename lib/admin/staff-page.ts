import "server-only";
import { notFound } from "next/navigation";
import type { StaffPermission } from "@/lib/admin/permissions";
import type { StaffSessionActor } from "@/lib/admin/staff-action";
import { requireStaffPermission } from "@/lib/admin/staff-guard";
import { resolveActor } from "@/lib/auth/session";
import { BankError } from "@/lib/errors";

/**
 * For back-office pages: the signed-in staff member if their role has `permission`; everyone else (signed
 * out, a customer, a staff role without it) gets notFound(), the same 404 as a path that does not exist.
 */
export async function requireStaffPageActor(permission: StaffPermission): Promise<StaffSessionActor> {
  const actor = await resolveActor();
  try {
    const staff = requireStaffPermission(actor, permission);
    if (!actor) notFound();
    return { ...staff, sessionId: actor.sessionId };
  } catch (error) {
    if (error instanceof BankError) notFound();
    throw error;
  }
}
