import Link from "next/link";
import { listAuditEvents, type AuditEventsPage } from "@/lib/admin/audit/list-audit-events";
import { readAuditChainStatus, type AuditChainStatus } from "@/lib/admin/audit/read-chain-status";
import { roleHasPermission } from "@/lib/admin/permissions";
import { requireStaffPageActor, staffPageMetadata } from "@/lib/admin/staff-page";
import { isBankError, type FieldErrors } from "@/lib/errors";
import { auditTrailFiltersToSearchParams, parseAuditTrailQuery, type AuditTrailQuery } from "@/lib/validation/audit-trail";

export const generateMetadata = staffPageMetadata("Audit trail", "audit.read");

type SearchParams = Record<string, string | string[] | undefined>;

const dateTimeFormat = new Intl.DateTimeFormat("en-GB", { dateStyle: "medium", timeStyle: "medium", timeZone: "UTC" });

/** The form's fields as typed (the first value of each), so that a refused filter is shown back for correction. */
function typedValue(parameters: SearchParams, name: string): string {
  const value = parameters[name];
  return (Array.isArray(value) ? value[0] : value) ?? "";
}

function Errors({ messages, id }: { messages: string[] | undefined; id: string }) {
  if (!messages || messages.length === 0) return null;
  return (
    <ul className="field-error" id={id}>
      {messages.map((message) => (
        <li key={message}>{message}</li>
      ))}
    </ul>
  );
}

function ChainStatusPanel({ status }: { status: AuditChainStatus }) {
  const verifiedAt = `Verified ${dateTimeFormat.format(status.verifiedAt)} UTC (the check is repeated at most once a minute).`;
  const lastCheckpoint = status.lastCheckpointAt
    ? `Last signed checkpoint: ${dateTimeFormat.format(status.lastCheckpointAt)} UTC.`
    : "No signed checkpoint yet.";
  return (
    <section className="section" aria-labelledby="chain-status-heading" data-testid="audit-chain-status" data-state={status.state}>
      <h2 id="chain-status-heading">Chain verification</h2>
      {status.state === "ok" ? (
        <p className="notice">
          Intact: {status.sealedEvents} sealed events and {status.checkpointsVerified} signed checkpoints verified.
        </p>
      ) : (
        <p className="alert" role="alert">
          Broken at chain position {status.chainPosition}
          {status.sequence === null ? "" : ` (event ${status.sequence})`}: {status.message}.
        </p>
      )}
      <p className="hint">
        {status.unsealedEvents} events not sealed yet. {lastCheckpoint} {verifiedAt}
      </p>
    </section>
  );
}

export default async function AuditTrailPage({ searchParams }: { searchParams: Promise<SearchParams> }) {
  const actor = await requireStaffPageActor("audit.read");
  const parameters = await searchParams;

  let query: AuditTrailQuery | null = null;
  let fieldErrors: FieldErrors = {};
  try {
    query = parseAuditTrailQuery(parameters);
  } catch (error) {
    if (!isBankError(error) || error.code !== "invalid_input") throw error;
    fieldErrors = error.fieldErrors ?? { form: [error.userMessage] };
  }
  const [page, chainStatus]: [AuditEventsPage | null, AuditChainStatus] = await Promise.all([
    query ? listAuditEvents(actor, query.filters, query.cursor) : Promise.resolve(null),
    readAuditChainStatus(actor),
  ]);

  const pageLink = (cursor: AuditEventsPage["olderCursor"]) =>
    query && cursor ? `/admin/audit?${auditTrailFiltersToSearchParams(query.filters, cursor)}` : null;
  const newerLink = page ? pageLink(page.newerCursor) : null;
  const olderLink = page ? pageLink(page.olderCursor) : null;
  const exportLink =
    query && roleHasPermission(actor.role, "audit.export")
      ? `/admin/audit/export?${auditTrailFiltersToSearchParams(query.filters)}`
      : null;

  return (
    <div className="card">
      <h1>Audit trail</h1>
      <ChainStatusPanel status={chainStatus} />

      <form method="get" action="/admin/audit" className="history-filters" aria-label="Filter the audit trail">
        <div className="field">
          <label htmlFor="audit-actor">Actor (user id)</label>
          <input id="audit-actor" name="actor" defaultValue={typedValue(parameters, "actor")} />
          <Errors id="audit-actor-errors" messages={fieldErrors.actor} />
        </div>
        <div className="field">
          <label htmlFor="audit-action">Action (ending in a dot: prefix)</label>
          <input id="audit-action" name="action" placeholder="staff." defaultValue={typedValue(parameters, "action")} />
          <Errors id="audit-action-errors" messages={fieldErrors.action} />
        </div>
        <div className="field">
          <label htmlFor="audit-target-type">Target type</label>
          <input id="audit-target-type" name="targetType" defaultValue={typedValue(parameters, "targetType")} />
          <Errors id="audit-target-type-errors" messages={fieldErrors.targetType} />
        </div>
        <div className="field">
          <label htmlFor="audit-target-id">Target id</label>
          <input id="audit-target-id" name="targetId" defaultValue={typedValue(parameters, "targetId")} />
          <Errors id="audit-target-id-errors" messages={fieldErrors.targetId} />
        </div>
        <div className="field">
          <label htmlFor="audit-from">From (UTC, inclusive)</label>
          <input id="audit-from" name="from" placeholder="2026-12-05T09:00" defaultValue={typedValue(parameters, "from")} />
          <Errors id="audit-from-errors" messages={fieldErrors.from} />
        </div>
        <div className="field">
          <label htmlFor="audit-to">To (UTC, exclusive)</label>
          <input id="audit-to" name="to" placeholder="2026-12-05T18:00" defaultValue={typedValue(parameters, "to")} />
          <Errors id="audit-to-errors" messages={fieldErrors.to} />
        </div>
        <div className="history-filter-actions">
          <button className="button" type="submit">
            Filter
          </button>
          <Link href="/admin/audit">Clear filters</Link>
        </div>
        <Errors
          id="audit-form-errors"
          messages={[...(fieldErrors.form ?? []), ...(fieldErrors.before ?? []), ...(fieldErrors.after ?? [])]}
        />
      </form>

      <p className="history-links">
        {exportLink ? (
          <a href={exportLink} download data-testid="audit-export-csv">
            Export CSV
          </a>
        ) : null}
      </p>

      {page ? (
        page.events.length === 0 ? (
          <p className="muted" data-testid="audit-empty">
            No events match.
          </p>
        ) : (
          <div className="audit-trail-table">
            <table className="accounts" data-testid="audit-events">
              <thead>
                <tr>
                  <th scope="col">Sequence</th>
                  <th scope="col">Time (UTC)</th>
                  <th scope="col">Actor</th>
                  <th scope="col">Action</th>
                  <th scope="col">Target</th>
                  <th scope="col">Client</th>
                  <th scope="col">Details</th>
                  <th scope="col">Sealed</th>
                </tr>
              </thead>
              <tbody>
                {page.events.map((event) => (
                  <tr key={event.sequence} data-testid="audit-event-row">
                    <td>{event.sequence}</td>
                    <td>{dateTimeFormat.format(event.occurredAt)}</td>
                    <td>
                      {event.actorId ?? "none"} <span className="muted">({event.actorRole ?? "unknown"})</span>
                    </td>
                    <td>{event.action}</td>
                    <td>{event.targetType ? `${event.targetType} ${event.targetId ?? ""}` : ""}</td>
                    <td>
                      {event.ipAddress ?? ""}
                      {event.userAgent ? <span className="hint audit-trail-user-agent">{event.userAgent}</span> : null}
                    </td>
                    <td>
                      {Object.keys(event.details).length === 0 ? null : (
                        <dl className="audit-trail-details">
                          {Object.entries(event.details).map(([key, value]) => (
                            <div key={key}>
                              <dt>{key}</dt>
                              <dd>{value}</dd>
                            </div>
                          ))}
                        </dl>
                      )}
                    </td>
                    <td>{event.sealed ? "Yes" : "Not yet"}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )
      ) : null}

      <p className="history-links">
        {newerLink ? (
          <Link href={newerLink} data-testid="audit-newer">
            Newer events
          </Link>
        ) : null}
        {olderLink ? (
          <Link href={olderLink} data-testid="audit-older">
            Older events
          </Link>
        ) : null}
      </p>
    </div>
  );
}
