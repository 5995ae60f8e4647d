import "server-only";
import { notFound } from "next/navigation";
import type { StaffPermission } from "@/lib/admin/permissions";
import type { StaffSessionActor } from "@/lib/admin/staff-action";
import { requireStaffPermission } from "@/lib/admin/staff-guard";
import { resolveActor } from "@/lib/auth/session";
import { BankError } from "@/lib/errors";

/**
 * For back-office pages: the staff actor of this request when their role has `permission`, otherwise a 404
 * (signed out, a customer, or a staff role without it), exactly as the data layer refuses, so a page never
 * hints that it exists.
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
