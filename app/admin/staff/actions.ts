"use server";

import { revalidatePath } from "next/cache";
import { staffAction } from "@/lib/admin/staff-action";
import { inviteStaff } from "@/lib/admin/staff/invite-staff";
import { approveAdminGrant, cancelAdminGrant, changeStaffRole, removeStaffAccess } from "@/lib/admin/staff/staff-roles";
import {
  approveAdminGrantSchema,
  cancelAdminGrantSchema,
  changeStaffRoleSchema,
  inviteStaffSchema,
  removeStaffAccessSchema,
} from "@/lib/validation/staff";

/** Invites a support or auditor member by email (the link lets them set a password and an authenticator). */
export const inviteStaffMember = staffAction("staff.invite", inviteStaffSchema, async (actor, input) => {
  await inviteStaff(actor, input);
  revalidatePath("/admin/staff");
  return null;
});

/**
 * Changes a role; granting admin only files a request for a second admin. The input goes on to the data layer,
 * which computes the step-up payload from it, so the code confirmed for this change is the one spent here.
 */
export const changeStaffMemberRole = staffAction("staff.change_role", changeStaffRoleSchema, async (actor, input) => {
  const outcome = await changeStaffRole(actor, input);
  revalidatePath("/admin/staff");
  return outcome;
});

export const removeStaffMemberAccess = staffAction("staff.change_role", removeStaffAccessSchema, async (actor, input) => {
  await removeStaffAccess(actor, input);
  revalidatePath("/admin/staff");
  return null;
});

export const approveAdminGrantRequest = staffAction("staff.approve_admin_grant", approveAdminGrantSchema, async (actor, input) => {
  await approveAdminGrant(actor, input);
  revalidatePath("/admin/staff");
  return null;
});

export const cancelAdminGrantRequest = staffAction("staff.change_role", cancelAdminGrantSchema, async (actor, input) => {
  await cancelAdminGrant(actor, input);
  revalidatePath("/admin/staff");
  return null;
});
