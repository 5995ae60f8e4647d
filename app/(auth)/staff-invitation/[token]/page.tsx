import type { Metadata } from "next";
import { notFound } from "next/navigation";
import { BankError } from "@/lib/errors";
import { openStaffInvitation, type OpenedStaffInvitation } from "@/lib/identity/staff-invitation";
import { acceptInvitation } from "./actions";
import { AcceptInvitationForm } from "./accept-invitation-form";

export const metadata: Metadata = { title: "Join the back office", referrer: "no-referrer" };

/**
 * The page an invited staff member reaches from the emailed link. It lives outside app/admin on purpose: the
 * back office's layout answers 404 to everyone without a staff session, and the invitee has no account yet.
 * An unknown, used, expired or malformed token is a 404 here too.
 */
export default async function StaffInvitationPage({ params }: { params: Promise<{ token: string }> }) {
  const { token } = await params;
  let invitation: OpenedStaffInvitation;
  try {
    invitation = await openStaffInvitation(token.slice(0, 128));
  } catch (error) {
    if (error instanceof BankError && error.code === "not_found") notFound();
    throw error;
  }
  return (
    <main className="shell">
      <div className="card auth-card">
        <p className="brand">Harbour Bank</p>
        <h1>Join the back office</h1>
        <p>
          {invitation.legalName}, you are invited as <strong>{invitation.role}</strong>. You will sign in as{" "}
          <strong>{invitation.email}</strong>.
        </p>
        <h2>1. Set up an authenticator app</h2>
        <p className="muted">Scan this code with your authenticator app, or type the key by hand.</p>
        {/* eslint-disable-next-line @next/next/no-img-element */}
        <img src={invitation.authenticator.qrCodeDataUrl} alt="QR code for your authenticator app" width={200} height={200} />
        <p>
          Key: <code data-testid="totp-secret">{invitation.authenticator.secretForManualEntry}</code>
        </p>
        <h2>2. Choose a password and confirm a code</h2>
        <AcceptInvitationForm acceptAction={acceptInvitation} token={token} />
      </div>
    </main>
  );
}
