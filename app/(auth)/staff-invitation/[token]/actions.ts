"use server";

import { publicAction } from "@/lib/action";
import { acceptStaffInvitation } from "@/lib/identity/staff-invitation";
import { acceptStaffInvitationSchema } from "@/lib/validation/staff";

// Token-authenticated, not session-authenticated: the invitee has no account until this succeeds. The schema
// checks every password rule it can; the data layer checks again with the invitee's name and address.
export const acceptInvitation = publicAction(acceptStaffInvitationSchema, async (input, context) => {
  await acceptStaffInvitation({ token: input.token, password: input.password, code: input.code }, context);
  return null;
});
