import { readOverview } from "@/lib/admin/overview";
import { requireStaffPageActor, staffPageMetadata } from "@/lib/admin/staff-page";
import { formatMinor } from "@/lib/money";

export const generateMetadata = staffPageMetadata("Overview", "overview.read");

const timeFormat = new Intl.DateTimeFormat("en-GB", { dateStyle: "medium", timeStyle: "short", timeZone: "UTC" });

export default async function AdminOverviewPage() {
  const actor = await requireStaffPageActor("overview.read");
  const overview = await readOverview(actor);
  return (
    <div className="card">
      <h1>Overview</h1>
      <p className="muted">As of {timeFormat.format(overview.readAt)} UTC.</p>
      <dl className="statement-summary" data-testid="overview">
        <dt>Customers</dt>
        <dd data-testid="overview-customers">{overview.customerCount}</dd>
        <dt>Customer deposits</dt>
        <dd data-testid="overview-deposits">
          {overview.depositTotals.length === 0
            ? "None"
            : overview.depositTotals.map((total) => (
                <span key={total.currency} data-testid="overview-deposit-total" data-currency={total.currency}>
                  {formatMinor(total.totalMinor, total.currency)}
                  <br />
                </span>
              ))}
        </dd>
        <dt>Transfers created today (UTC)</dt>
        <dd data-testid="overview-transfers-today">{overview.transfersCreatedToday}</dd>
        <dt>Held transfers waiting</dt>
        <dd data-testid="overview-held-transfers">{overview.heldTransfersWaiting}</dd>
        <dt>Customers locked out of sign-in</dt>
        <dd data-testid="overview-locked-customers">{overview.customersLockedOut}</dd>
      </dl>
    </div>
  );
}
