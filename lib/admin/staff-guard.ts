import "server-only";
import type { Actor, StaffActor } from "@/lib/auth/actor";
import { roleHasPermission, type StaffPermission } from "@/lib/admin/permissions";
import { BankError } from "@/lib/errors";

/**
 * The one check every staff data-layer function starts with. A signed-out caller, a customer, the system
 * actor and a staff member whose role lacks the permission all get the same BankError("not_found"), which
 * every surface answers as 404: nobody outside learns that the function exists.
 *
 * The actor's role was read from the database for this request (lib/auth/session.ts), never taken from the
 * browser, so a role removed a moment ago no longer passes.
 */
export function requireStaffPermission(actor: Actor | null | undefined, permission: StaffPermission): StaffActor {
  if (!actor || actor.kind !== "staff") {
    throw new BankError("not_found", { internalMessage: `staff permission ${permission} asked by a non-staff caller` });
  }
  if (!roleHasPermission(actor.role, permission)) {
    throw new BankError("not_found", { internalMessage: `role ${actor.role} lacks ${permission}` });
  }
  return actor;
}
