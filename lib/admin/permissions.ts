import type { StaffRole } from "@/lib/auth/actor";

/**
 * The back office's permission matrix: which staff role may do what. This file is the single source: the data
 * layer checks it on every staff function (lib/admin/staff-guard.ts), the pages and actions ask the same guard,
 * README shows it as a table, and the authorization matrix test is generated from it, so that a new staff
 * action without an entry here fails that test.
 *
 * Anyone who is not staff (signed out, or a customer) may do none of these, and learns nothing: every refusal
 * is a 404. A staff member whose role lacks a permission also gets a 404 for it.
 */
export const staffPermissions = [
  "overview.read",
  "customers.read",
  "customers.reveal_pii",
  "customers.clear_lockout",
  "customers.revoke_sessions",
  "accounts.freeze",
  "mfa_reset.request",
  "mfa_reset.approve",
  "transfers.read_held",
  "transfers.comment",
  "transfers.approve",
  "transfers.reject",
  "staff.read",
  "staff.invite",
  "staff.change_role",
  "staff.approve_admin_grant",
  "audit.read",
  "audit.export",
] as const;

export type StaffPermission = (typeof staffPermissions)[number];

/** What each permission means, for README's table and the pages' help text. */
export const permissionDescriptions: Record<StaffPermission, string> = {
  "overview.read": "See the overview (customer count, total deposits, today's transfers, held transfers, locked sign-ins)",
  "customers.read": "Find customers and read their page with PII masked",
  "customers.reveal_pii": "Reveal one masked field of a customer, with a stated reason (audited)",
  "customers.clear_lockout": "Clear a customer's sign-in lock",
  "customers.revoke_sessions": "Revoke all of a customer's sessions",
  "accounts.freeze": "Freeze and unfreeze a customer's account",
  "mfa_reset.request": "Request the reset of a customer's second factor",
  "mfa_reset.approve": "Approve another staff member's request to reset a customer's second factor",
  "transfers.read_held": "See the held-transfer queue and a held transfer's reviews",
  "transfers.comment": "Comment on a held transfer",
  "transfers.approve": "Approve a held transfer (four eyes)",
  "transfers.reject": "Reject a held transfer with a reason",
  "staff.read": "See the staff list and pending role requests",
  "staff.invite": "Invite a new staff member",
  "staff.change_role": "Grant or remove a staff role (granting admin needs a second admin)",
  "staff.approve_admin_grant": "Approve another admin's request to grant the admin role",
  "audit.read": "Read the audit trail and its verification status",
  "audit.export": "Export the audit trail as CSV",
};

const allPermissions: readonly StaffPermission[] = staffPermissions;

export const permissionMatrix: Readonly<Record<StaffRole, readonly StaffPermission[]>> = {
  admin: allPermissions,
  // Support is the first line: it looks into cases, comments, refuses and asks, but never approves. An approval
  // (of a held transfer, of a second-factor reset) is the second pair of eyes, and that is an admin's, so the
  // four-eyes rules always put a second role's judgement between a request and money or an identity moving.
  support: [
    "overview.read",
    "customers.read",
    "customers.reveal_pii",
    "customers.clear_lockout",
    "customers.revoke_sessions",
    "accounts.freeze",
    "mfa_reset.request",
    "transfers.read_held",
    "transfers.comment",
    "transfers.reject",
  ],
  // Auditors read everything and change nothing. Revealing a masked field changes nothing either, but it is
  // recorded with the stated reason like anyone else's reveal.
  auditor: [
    "overview.read",
    "customers.read",
    "customers.reveal_pii",
    "transfers.read_held",
    "staff.read",
    "audit.read",
    "audit.export",
  ],
};

/**
 * The sensitive permissions: the staff member must have confirmed a fresh second factor (step-up) before
 * each use, on top of the MFA of their sign-in.
 */
export const stepUpPermissions: ReadonlySet<StaffPermission> = new Set<StaffPermission>([
  "customers.reveal_pii",
  "accounts.freeze",
  "mfa_reset.request",
  "mfa_reset.approve",
  "transfers.approve",
  "staff.change_role",
  "staff.approve_admin_grant",
]);

export function roleHasPermission(role: StaffRole, permission: StaffPermission): boolean {
  return permissionMatrix[role].includes(permission);
}

/**
 * Every back-office server action by its exported name, with the permission it needs. The authorization matrix
 * test enumerates the admin actions from the build's server-reference manifest and fails on any action that is
 * missing here, so a new action cannot ship without a decided permission. Keep one entry per line, grouped by
 * the file that exports it.
 */
export const adminActionPermissions: Readonly<Record<string, StaffPermission>> = {
  // Customers and customer care (app/admin/customers/actions.ts)
  revealCustomerField: "customers.reveal_pii",
  confirmRevealStepUp: "customers.reveal_pii",
  clearCustomerSignInLock: "customers.clear_lockout",
  revokeAllCustomerSessions: "customers.revoke_sessions",
  setCustomerAccountFrozen: "accounts.freeze",
  confirmFreezeStepUp: "accounts.freeze",
  // Held transfers (app/admin/transfers/actions.ts)
  commentOnHeldTransferAction: "transfers.comment",
  approveHeldTransferAction: "transfers.approve",
  rejectHeldTransferAction: "transfers.reject",
  // Staff and roles: app/admin/staff/actions.ts
  inviteStaffMember: "staff.invite",
  changeStaffMemberRole: "staff.change_role",
  removeStaffMemberAccess: "staff.change_role",
  approveAdminGrantRequest: "staff.approve_admin_grant",
  cancelAdminGrantRequest: "staff.change_role",
  // Lost authenticator (MFA reset with two staff): app/admin/mfa-resets/actions.ts
  requestMfaResetAction: "mfa_reset.request",
  approveMfaResetAction: "mfa_reset.approve",
  cancelMfaResetAction: "mfa_reset.request",
};

/**
 * Every back-office page by its route (as in app/admin, dynamic segments in brackets), with the permission it
 * needs to render. The authorization matrix test visits each.
 */
export const adminPagePermissions: Readonly<Record<string, StaffPermission>> = {
  // Foundation: the overview.
  "/admin": "overview.read",
  // Customers and customer care
  "/admin/customers": "customers.read",
  "/admin/customers/[customerId]": "customers.read",
  // Held transfers
  "/admin/transfers": "transfers.read_held",
  "/admin/transfers/[transferId]": "transfers.read_held",
  // Staff and roles
  "/admin/staff": "staff.read",
  // Lost authenticator (MFA reset with two staff)
  "/admin/mfa-resets": "mfa_reset.request",
  // Audit trail slice.
  "/admin/audit": "audit.read",
};

/** Every back-office route handler by its route and method, with the permission it needs. */
export const adminRoutePermissions: Readonly<Record<string, StaffPermission>> = {
  // Audit trail slice.
  "GET /admin/audit/export": "audit.export",
  "HEAD /admin/audit/export": "audit.export",
};
