import type { Metadata } from "next";
import { describeUserAgent } from "@/lib/auth/describe-user-agent";
import { requireActorOrRedirect } from "@/lib/auth/session";
import { listMySessions } from "@/lib/auth/sessions";
import { revokeSession, signOutOtherSessions } from "./actions";
import { type SessionRow, SessionsSection } from "./sessions-section";

export const metadata: Metadata = { title: "Security" };

// Times are shown in UTC with the zone named, the same for every viewer and identical between the server render
// and the browser (a local-time rendering would differ between the two).
const timeFormat = new Intl.DateTimeFormat("en-GB", { dateStyle: "medium", timeStyle: "short", timeZone: "UTC" });

export default async function SecurityPage() {
  // Layouts and pages render independently, so the page checks the session itself too.
  const actor = await requireActorOrRedirect();
  const sessions = await listMySessions(actor);
  const rows: SessionRow[] = sessions.map((session) => ({
    id: session.id,
    createdAt: `${timeFormat.format(session.createdAt)} UTC`,
    lastSeenAt: `${timeFormat.format(session.lastSeenAt)} UTC`,
    ipAddress: session.ipAddress ?? "Unknown",
    browser: describeUserAgent(session.userAgent),
    isCurrent: session.isCurrent,
  }));
  return (
    <>
      <div className="card section">
        <h1>Security</h1>
        <p className="muted">Your password, where you are signed in, and your recent sign-ins.</p>
      </div>

      {/* Section: Change password. Added with the password-change work; it goes here, above the sessions. */}

      {/* Section: Where you are signed in. */}
      <SessionsSection sessions={rows} revokeSession={revokeSession} signOutOtherSessions={signOutOtherSessions} />

      {/* Section: Login history. Added with the login-history work; it goes here, below the sessions. */}
    </>
  );
}
