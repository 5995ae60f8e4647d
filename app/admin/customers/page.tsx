import Link from "next/link";
import { findCustomers, type CustomerSearchResult } from "@/lib/admin/customers/find-customers";
import { requireStaffPageActor, staffPageMetadata } from "@/lib/admin/staff-page";
import { BankError } from "@/lib/errors";

export const generateMetadata = staffPageMetadata("Customers", "customers.read");

interface CustomersPageProps {
  searchParams: Promise<Record<string, string | string[] | undefined>>;
}

/**
 * Find a customer by email address, account number or customer id. A GET form, so a search is a link staff
 * can share with a colleague; the query is exact (emails go through the blind index), so there is no listing of
 * everyone and no partial match.
 */
export default async function CustomersPage({ searchParams }: CustomersPageProps) {
  const actor = await requireStaffPageActor("customers.read");
  const parameters = await searchParams;
  const query = typeof parameters.q === "string" ? parameters.q : "";
  let results: CustomerSearchResult[] | null = null;
  let queryErrors: string[] = [];
  if (query.trim() !== "") {
    try {
      results = await findCustomers(actor, query);
    } catch (error) {
      if (!(error instanceof BankError) || error.code !== "invalid_input") throw error;
      queryErrors = error.fieldErrors?.query ?? [error.userMessage];
    }
  }
  return (
    <>
      <div className="card section">
        <h1>Customers</h1>
        <p className="muted">Find a customer by their exact email address, one of their account numbers, or their customer id.</p>
        <form method="get" action="/admin/customers" className="customer-search" role="search">
          <div className="field">
            <label htmlFor="customer-query">Email, account number or customer id</label>
            <input
              id="customer-query"
              name="q"
              defaultValue={query}
              autoComplete="off"
              spellCheck={false}
              maxLength={254}
              aria-invalid={queryErrors.length > 0}
              aria-describedby={queryErrors.length > 0 ? "customer-query-error" : undefined}
            />
            {queryErrors.length > 0 ? (
              <ul className="field-error" id="customer-query-error" role="alert">
                {queryErrors.map((message) => (
                  <li key={message}>{message}</li>
                ))}
              </ul>
            ) : null}
          </div>
          <button className="button" type="submit">
            Find
          </button>
        </form>
      </div>
      {results !== null ? (
        <section className="card section" aria-labelledby="customer-results-heading">
          <h2 id="customer-results-heading">Results</h2>
          {results.length === 0 ? (
            <p className="muted">No customer matches exactly. Check the address, number or id.</p>
          ) : (
            <table className="accounts" data-testid="customer-results">
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Email</th>
                  <th scope="col">Status</th>
                </tr>
              </thead>
              <tbody>
                {results.map((customer) => (
                  <tr key={customer.id}>
                    <td>
                      <Link href={`/admin/customers/${customer.id}`}>{customer.maskedName}</Link>
                    </td>
                    <td>{customer.maskedEmail}</td>
                    <td>
                      {customer.locked ? <span className="badge badge-warning">Sign-in locked</span> : null}
                      {customer.emailVerified ? null : <span className="badge badge-warning">Email not confirmed</span>}
                      {!customer.locked && customer.emailVerified ? "Active" : null}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </section>
      ) : null}
    </>
  );
}
