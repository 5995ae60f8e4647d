import type { Metadata } from "next";
import Link from "next/link";
import { listMyAccounts } from "@/lib/accounts/list-my-accounts";
import { requireActorOrRedirect } from "@/lib/auth/session";
import { isBankError, type FieldErrors } from "@/lib/errors";
import { listAccountHistory, listPendingTransfers, type HistoryPage, type PendingTransfer } from "@/lib/ledger/history";
import { formatMinor } from "@/lib/money";
import { historyQueryToSearchParams, parseHistoryQuery, type HistoryQuery } from "@/lib/validation/history";

export const metadata: Metadata = { title: "History" };

type SearchParams = Record<string, string | string[] | undefined>;

const kindLabels = { deposit: "Deposit", internal: "Transfer", external: "Payment", reversal: "Reversal" } as const;
const dateTimeFormat = new Intl.DateTimeFormat("en-GB", { dateStyle: "medium", timeStyle: "short", timeZone: "UTC" });

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

export default async function HistoryPage({ searchParams }: { searchParams: Promise<SearchParams> }) {
  // Layouts and pages render independently, so the page checks the session itself too.
  const actor = await requireActorOrRedirect();
  if (actor.kind !== "customer") {
    return (
      <div className="card">
        <h1>History</h1>
        <p className="muted">Staff accounts hold no bank accounts.</p>
      </div>
    );
  }
  const parameters = await searchParams;
  const accounts = await listMyAccounts(actor);

  let query: HistoryQuery | null = null;
  let fieldErrors: FieldErrors = {};
  try {
    query = parseHistoryQuery(parameters);
  } catch (error) {
    if (!isBankError(error) || error.code !== "invalid_input") throw error;
    fieldErrors = error.fieldErrors ?? { form: [error.userMessage] };
  }
  // An account id that is not one of the customer's is refused by the data layer as not_found; the form only
  // offers their own, so reaching that means a hand-edited link, answered as "no such account".
  let page: HistoryPage | null = null;
  let pending: PendingTransfer[] = [];
  if (query) {
    try {
      [page, pending] = await Promise.all([listAccountHistory(actor, query), listPendingTransfers(actor, query.accountId)]);
    } catch (error) {
      if (!isBankError(error) || error.code !== "not_found") throw error;
      fieldErrors = { account: ["Choose one of your accounts."] };
      query = null;
    }
  }

  const filters = query ? historyQueryToSearchParams(query) : null;
  const olderLink = query && page?.nextCursor ? `/history?${historyQueryToSearchParams(query, { cursor: page.nextCursor })}` : null;
  const exportLink = filters ? `/history/export?${filters}` : null;
  const showAccountColumn = !query?.accountId;

  return (
    <div className="card">
      <h1>History</h1>
      <form method="get" action="/history" className="history-filters no-print" aria-label="Filter history">
        <div className="field">
          <label htmlFor="history-account">Account</label>
          <select id="history-account" name="account" defaultValue={typedValue(parameters, "account")}>
            <option value="">All accounts</option>
            {accounts.map((account) => (
              <option key={account.id} value={account.id}>
                {account.nickname} ({account.accountNumber})
              </option>
            ))}
          </select>
          <Errors id="history-account-errors" messages={fieldErrors.account} />
        </div>
        <div className="field">
          <label htmlFor="history-from">From</label>
          <input id="history-from" name="from" type="date" defaultValue={typedValue(parameters, "from")} />
          <Errors id="history-from-errors" messages={fieldErrors.from} />
        </div>
        <div className="field">
          <label htmlFor="history-to">To</label>
          <input id="history-to" name="to" type="date" defaultValue={typedValue(parameters, "to")} />
          <Errors id="history-to-errors" messages={fieldErrors.to} />
        </div>
        <div className="field">
          <label htmlFor="history-min">Smallest amount</label>
          <input id="history-min" name="min" inputMode="decimal" defaultValue={typedValue(parameters, "min")} />
          <Errors id="history-min-errors" messages={fieldErrors.min} />
        </div>
        <div className="field">
          <label htmlFor="history-max">Largest amount</label>
          <input id="history-max" name="max" inputMode="decimal" defaultValue={typedValue(parameters, "max")} />
          <Errors id="history-max-errors" messages={fieldErrors.max} />
        </div>
        <div className="field">
          <label htmlFor="history-direction">Direction</label>
          <select id="history-direction" name="direction" defaultValue={typedValue(parameters, "direction")}>
            <option value="">Money in and out</option>
            <option value="in">Money in</option>
            <option value="out">Money out</option>
          </select>
          <Errors id="history-direction-errors" messages={fieldErrors.direction} />
        </div>
        <div className="field">
          <label htmlFor="history-text">Reference or name contains</label>
          <input id="history-text" name="text" type="search" defaultValue={typedValue(parameters, "text")} />
          <Errors id="history-text-errors" messages={fieldErrors.text} />
        </div>
        <div className="history-filter-actions">
          <button className="button" type="submit">
            Filter
          </button>
          <Link href="/history">Clear filters</Link>
        </div>
        <Errors id="history-form-errors" messages={[...(fieldErrors.form ?? []), ...(fieldErrors.cursor ?? []), ...(fieldErrors.limit ?? [])]} />
      </form>

      <p className="history-links no-print">
        {exportLink ? (
          <a href={exportLink} download data-testid="export-csv">
            Export CSV
          </a>
        ) : null}
        {accounts.map((account) => (
          <Link key={account.id} href={`/accounts/${account.id}/statements`}>
            Statements: {account.nickname}
          </Link>
        ))}
      </p>

      {pending.length > 0 ? (
        <section className="section" aria-labelledby="pending-heading">
          <h2 id="pending-heading">Pending</h2>
          <p className="hint">These payments are waiting for review. The money is set aside and not yet sent.</p>
          <table className="accounts" data-testid="pending-transfers">
            <thead>
              <tr>
                <th scope="col">Requested</th>
                <th scope="col">From</th>
                <th scope="col">To</th>
                <th scope="col">Reference</th>
                <th scope="col" className="amount">Amount</th>
              </tr>
            </thead>
            <tbody>
              {pending.map((transfer) => (
                <tr key={transfer.transferId} data-testid="pending-row">
                  <td>{dateTimeFormat.format(transfer.createdAt)}</td>
                  <td>{transfer.accountNickname}</td>
                  <td>{transfer.counterparty}</td>
                  <td>{transfer.memo ?? ""}</td>
                  <td className="amount">{formatMinor(-transfer.amountMinor, transfer.currency)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </section>
      ) : null}

      {page ? (
        page.entries.length === 0 ? (
          <p className="muted" data-testid="history-empty">
            {page.searchStoppedEarly ? "No matches in this stretch of your history yet." : "No transactions match."}
          </p>
        ) : (
          <table className="accounts" data-testid="history">
            <thead>
              <tr>
                <th scope="col">Date (UTC)</th>
                {showAccountColumn ? <th scope="col">Account</th> : null}
                <th scope="col">Details</th>
                <th scope="col">Reference</th>
                <th scope="col" className="amount">Amount</th>
                <th scope="col" className="amount">Balance</th>
              </tr>
            </thead>
            <tbody>
              {page.entries.map((entry) => (
                <tr key={entry.id} data-testid="history-row" data-direction={entry.direction}>
                  <td>{dateTimeFormat.format(entry.postedAt)}</td>
                  {showAccountColumn ? <td>{entry.accountNickname}</td> : null}
                  <td>
                    {entry.counterparty}{" "}
                    <span className="muted">
                      · {kindLabels[entry.transferKind]}
                      {entry.transferStatus === "reversed" ? " (reversed)" : ""}
                    </span>
                  </td>
                  <td>{entry.memo ?? ""}</td>
                  <td className="amount">{formatMinor(entry.amountMinor, entry.currency)}</td>
                  <td className="amount">{formatMinor(entry.balanceAfterMinor, entry.currency)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )
      ) : null}

      {page?.searchStoppedEarly ? (
        <p className="hint">The search looked at part of your history. Continue to search older transactions.</p>
      ) : null}
      {olderLink ? (
        <p className="no-print">
          <Link href={olderLink} data-testid="older">
            {page?.searchStoppedEarly ? "Search older transactions" : "Older"}
          </Link>
        </p>
      ) : null}
    </div>
  );
}
