import type { LoginHistoryEntry } from "@/lib/identity/account-security";

const outcomeLabels: Record<LoginHistoryEntry["outcome"], string> = {
  succeeded: "Signed in",
  // Never shown (such rows have no user), but the table's type includes it.
  unknown_account: "Refused",
  wrong_password: "Wrong password",
  locked: "Refused: account locked",
  unverified: "Refused: email not confirmed",
  second_factor_failed: "Wrong security code",
};

const timeFormat = new Intl.DateTimeFormat("en-GB", { dateStyle: "medium", timeStyle: "medium", timeZone: "UTC" });

export function LoginHistorySection({ entries }: { entries: LoginHistoryEntry[] }) {
  return (
    <section aria-labelledby="login-history-heading" className="card section">
      <h2 id="login-history-heading">Login history</h2>
      {entries.length === 0 ? (
        <p className="muted">No sign-ins yet.</p>
      ) : (
        <table className="accounts">
          <thead>
            <tr>
              <th scope="col">Time (UTC)</th>
              <th scope="col">Outcome</th>
              <th scope="col">Address</th>
              <th scope="col">Browser</th>
            </tr>
          </thead>
          <tbody>
            {entries.map((entry, index) => (
              <tr key={`${entry.occurredAt.toISOString()}-${index}`}>
                <td>{timeFormat.format(entry.occurredAt)}</td>
                <td>{outcomeLabels[entry.outcome]}</td>
                <td>{entry.ipAddress ?? "unknown"}</td>
                <td>{entry.userAgent ?? "unknown"}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
