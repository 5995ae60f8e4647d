import { z } from "zod";
import { emailAddress, strictObject } from "@/lib/validation/fields";
import { newPasswordField, passwordConfirmationField, withNewPasswordRules } from "@/lib/validation/password-policy";
import { legalNameField } from "@/lib/validation/registration";

/**
 * The back office's staff forms. Shared by the client forms and the server actions (and, for the step-up
 * operations, by lib/auth/step-up-operations.ts), so that what a code was confirmed for is parsed exactly as
 * the action parses it.
 */

const staffId = z.uuid({ error: "Choose a staff member." });

/** Roles an invitation may carry: `admin` is reached only through a grant that a second admin approves. */
export const invitableStaffRoles = ["support", "auditor"] as const;
export const staffRoles = ["admin", "support", "auditor"] as const;

export const inviteStaffSchema = strictObject({
  email: emailAddress(),
  legalName: legalNameField,
  role: z.enum(invitableStaffRoles, { error: "Choose support or auditor." }),
});

export const changeStaffRoleSchema = strictObject({
  staffId,
  role: z.enum(staffRoles, { error: "Choose a role." }),
});

export const removeStaffAccessSchema = strictObject({ staffId });

export const approveAdminGrantSchema = strictObject({
  requestId: z.uuid({ error: "Choose a request." }),
});

export const cancelAdminGrantSchema = approveAdminGrantSchema;

/** 32 random bytes as unpadded base64url, like every emailed token. */
export const staffInvitationTokenPattern = /^[A-Za-z0-9_-]{43}$/;

export const invalidInvitationMessage = "This invitation is not valid. Ask an admin for a new one.";

export const acceptStaffInvitationSchema = withNewPasswordRules(
  strictObject({
    token: z.string({ error: invalidInvitationMessage }).regex(staffInvitationTokenPattern, { error: invalidInvitationMessage }),
    password: newPasswordField(),
    passwordConfirmation: passwordConfirmationField(),
    code: z.string({ error: "Enter the 6-digit code from your authenticator app." }).regex(/^\d{6}$/, {
      error: "Enter the 6-digit code from your authenticator app.",
    }),
  }),
  () => ({}),
);

export type InviteStaffInput = z.output<typeof inviteStaffSchema>;
export type ChangeStaffRoleInput = z.output<typeof changeStaffRoleSchema>;
export type AcceptStaffInvitationInput = z.output<typeof acceptStaffInvitationSchema>;
