import "server-only";
import { notFound } from "next/navigation";
import type { StaffPermission } from "@/lib/admin/permissions";
import type { StaffSessionActor } from "@/lib/admin/staff-action";
import { requireStaffPermission } from "@/lib/admin/staff-guard";
import { resolveActor } from "@/lib/auth/session";
import { BankError } from "@/lib/errors";

/**
 * The first line of every back-office page: the signed-in staff member if their role has `permission`, and a
 * 404 for everyone else (signed out, a customer, a role without it), never a hint that the page exists. The
 * data-layer function the page then calls checks the same permission again.
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
