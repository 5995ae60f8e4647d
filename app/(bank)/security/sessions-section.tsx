"use client";

import { useActionState } from "react";
import type { ActionResult } from "@/lib/action";

/** One session as the page shows it: already formatted on the server, so nothing here reads a clock. */
export interface SessionRow {
  id: string;
  createdAt: string;
  lastSeenAt: string;
  ipAddress: string;
  browser: string;
  isCurrent: boolean;
}

type FormAction<T> = (previous: ActionResult<T> | null, input: FormData) => Promise<ActionResult<T>>;

interface SessionsSectionProps {
  sessions: SessionRow[];
  revokeSession: FormAction<null>;
  signOutOtherSessions: FormAction<{ revokedCount: number }>;
}

function RevokeSessionForm({ session, revokeSession }: { session: SessionRow; revokeSession: FormAction<null> }) {
  const [result, formAction, pending] = useActionState(revokeSession, null);
  return (
    <form action={formAction}>
      <input type="hidden" name="sessionId" value={session.id} />
      <button className="button-quiet" type="submit" disabled={pending} aria-label={`Revoke the session of ${session.browser} from ${session.ipAddress}, last seen ${session.lastSeenAt}`}>
        {pending ? "Revoking…" : "Revoke"}
      </button>
      {result && !result.ok ? (
        <p className="field-error" role="alert">
          {result.message}
        </p>
      ) : null}
    </form>
  );
}

export function SessionsSection({ sessions, revokeSession, signOutOtherSessions }: SessionsSectionProps) {
  const [result, formAction, pending] = useActionState(signOutOtherSessions, null);
  const others = sessions.filter((session) => !session.isCurrent).length;
  return (
    <section className="card section" aria-labelledby="sessions-heading" data-testid="sessions-section">
      <h2 id="sessions-heading">Where you are signed in</h2>
      <p className="muted">
        Revoke any session you do not recognise. A revoked session is signed out on its next request.
      </p>
      <table className="sessions">
        <thead>
          <tr>
            <th scope="col">Browser</th>
            <th scope="col">IP address</th>
            <th scope="col">Signed in</th>
            <th scope="col">Last active</th>
            <th scope="col">
              <span className="visually-hidden">Action</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {sessions.map((session) => (
            <tr key={session.id} data-testid="session-row" data-current={session.isCurrent ? "true" : "false"}>
              <td>
                {session.browser}
                {session.isCurrent ? <span className="badge">This session</span> : null}
              </td>
              <td>{session.ipAddress}</td>
              <td>{session.createdAt}</td>
              <td>{session.lastSeenAt}</td>
              <td>{session.isCurrent ? null : <RevokeSessionForm session={session} revokeSession={revokeSession} />}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <form action={formAction}>
        <button className="button" type="submit" disabled={pending || others === 0}>
          {pending ? "Signing out…" : "Sign out everywhere else"}
        </button>
        {result?.ok ? (
          <p className="success" role="status">
            {result.data.revokedCount === 1 ? "1 other session was signed out." : `${result.data.revokedCount} other sessions were signed out.`}
          </p>
        ) : null}
        {result && !result.ok ? (
          <p className="field-error" role="alert">
            {result.message}
          </p>
        ) : null}
      </form>
    </section>
  );
}
