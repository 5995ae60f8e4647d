import { confirmStepUp } from "@/app/(bank)/step-up-actions";
import { roleHasPermission } from "@/lib/admin/permissions";
import { requireStaffPageActor, staffPageMetadata } from "@/lib/admin/staff-page";
import { listStaff } from "@/lib/admin/staff/list-staff";
import {
  approveAdminGrantRequest,
  cancelAdminGrantRequest,
  changeStaffMemberRole,
  inviteStaffMember,
  removeStaffMemberAccess,
} from "./actions";
import { AdminGrantControls } from "./admin-grant-controls";
import { InviteStaffForm } from "./invite-staff-form";
import { StaffMemberControls } from "./staff-member-controls";

export const generateMetadata = staffPageMetadata("Staff", "staff.read");

const dateTime = new Intl.DateTimeFormat("en-GB", { dateStyle: "medium", timeStyle: "short", timeZone: "UTC" });

/**
 * Staff and roles. Auditors see the list read-only; admins also invite, change roles, remove access and
 * approve each other's grants of admin. What each role sees follows the permission matrix, and every action
 * checks it again in the data layer.
 */
export default async function StaffPage() {
  const actor = await requireStaffPageActor("staff.read");
  const directory = await listStaff(actor);
  const canChangeRoles = roleHasPermission(actor.role, "staff.change_role");
  const canApprove = roleHasPermission(actor.role, "staff.approve_admin_grant");
  const canInvite = roleHasPermission(actor.role, "staff.invite");
  return (
    <>
      <div className="card">
        <h1>Staff</h1>
        <table data-testid="staff-members">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Email</th>
              <th scope="col">Role</th>
              <th scope="col">Authenticator</th>
              <th scope="col">Last sign-in (UTC)</th>
              {canChangeRoles ? (
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              ) : null}
            </tr>
          </thead>
          <tbody>
            {directory.members.map((member) => (
              <tr key={member.id} data-testid="staff-member-row" data-role={member.role}>
                <td>{member.legalName}</td>
                <td>{member.maskedEmail}</td>
                <td>{member.accessRemoved ? `${member.role} (access removed)` : member.role}</td>
                <td>{member.mfaEnrolled ? "Enrolled" : "Not enrolled"}</td>
                <td>{member.lastSignInAt ? dateTime.format(member.lastSignInAt) : "Never"}</td>
                {canChangeRoles ? (
                  <td>
                    {member.id === actor.userId ? (
                      <span className="muted">You</span>
                    ) : member.accessRemoved ? null : (
                      <StaffMemberControls
                        staffId={member.id}
                        name={member.legalName}
                        role={member.role}
                        changeRole={changeStaffMemberRole}
                        removeAccess={removeStaffMemberAccess}
                        confirmStepUp={confirmStepUp}
                      />
                    )}
                  </td>
                ) : null}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <div className="card">
        <h2>Grants of admin waiting for a second admin</h2>
        {directory.pendingAdminGrants.length === 0 ? (
          <p className="muted">None.</p>
        ) : (
          <table data-testid="pending-admin-grants">
            <thead>
              <tr>
                <th scope="col">Staff member</th>
                <th scope="col">Current role</th>
                <th scope="col">Requested by</th>
                <th scope="col">Requested (UTC)</th>
                {canChangeRoles || canApprove ? (
                  <th scope="col">
                    <span className="visually-hidden">Actions</span>
                  </th>
                ) : null}
              </tr>
            </thead>
            <tbody>
              {directory.pendingAdminGrants.map((request) => (
                <tr key={request.id} data-testid="pending-admin-grant-row">
                  <td>{request.targetName}</td>
                  <td>{request.targetRole}</td>
                  <td>{request.requestedByName}</td>
                  <td>{dateTime.format(request.createdAt)}</td>
                  {canChangeRoles || canApprove ? (
                    <td>
                      <AdminGrantControls
                        requestId={request.id}
                        targetName={request.targetName}
                        // The second admin: never the one who asked, never the one who would become admin.
                        canApprove={canApprove && request.requestedById !== actor.userId && request.targetId !== actor.userId}
                        canCancel={canChangeRoles}
                        approve={approveAdminGrantRequest}
                        cancel={cancelAdminGrantRequest}
                        confirmStepUp={confirmStepUp}
                      />
                    </td>
                  ) : null}
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </div>
      <div className="card">
        <h2>Invitations waiting</h2>
        {directory.pendingInvitations.length === 0 ? (
          <p className="muted">None.</p>
        ) : (
          <ul data-testid="pending-invitations">
            {directory.pendingInvitations.map((invitation) => (
              <li key={invitation.id}>
                {invitation.maskedEmail} as {invitation.role}, until {dateTime.format(invitation.expiresAt)} UTC
              </li>
            ))}
          </ul>
        )}
        {canInvite ? (
          <>
            <h2>Invite a staff member</h2>
            <p className="muted">
              Invitations are for support or auditor. To make someone an admin, invite them first, then grant admin:
              a second admin must approve.
            </p>
            <InviteStaffForm inviteAction={inviteStaffMember} />
          </>
        ) : null}
      </div>
    </>
  );
}
