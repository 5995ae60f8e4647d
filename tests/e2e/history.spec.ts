import crypto from "node:crypto";
import { expect, test } from "@playwright/test";
import { accountTransactionsResponseSchema } from "../../lib/validation/history";
import { demoSignIn } from "./demo-credentials";
import { signInAs } from "./sign-in-helpers";

/** The amount in a cell ("£61,000.50" → 6100050n). */
function minorUnitsIn(text: string): bigint {
  const match = /£([\d,]+)\.(\d\d)/.exec(text);
  if (!match?.[1] || !match[2]) throw new Error(`no amount in ${JSON.stringify(text)}`);
  return BigInt(match[1].replaceAll(",", "")) * 100n + BigInt(match[2]);
}

// The demo customer's history holds the seed's opening deposits from the bank (one per account), which is
// enough to see the list, filter it, export it and open a statement without depending on other features.
// Other specs may add payments of their own to Alice's history, so what is counted here is the bank's deposits.
test("a customer sees, filters and exports their history, opens a statement, and the API answers the same", async ({ page }) => {
  const alice = demoSignIn((person) => person.email === "alice@example.com");
  await signInAs(page, alice);

  await page.getByRole("link", { name: "History" }).click();
  await expect(page.getByRole("heading", { name: "History" })).toBeVisible();
  const rows = page.getByTestId("history-row");
  await expect(rows.first()).toBeVisible();
  const deposits = rows.filter({ hasText: "Harbour Bank" });
  const rowCount = await deposits.count();
  expect(rowCount).toBeGreaterThanOrEqual(2);

  // Filtering: a text nobody wrote matches nothing, and money in with the bank's name finds its deposits.
  await page.getByLabel("Reference or name contains").fill("no such reference anywhere");
  await page.getByRole("button", { name: "Filter" }).click();
  await expect(page).toHaveURL(/text=no/);
  await expect(page.getByTestId("history-empty")).toHaveText("No transactions match.");
  await page.getByLabel("Direction").selectOption("in");
  await page.getByLabel("Reference or name contains").fill("harbour");
  await page.getByRole("button", { name: "Filter" }).click();
  await expect(page).toHaveURL(/direction=in/);
  await expect(page.getByTestId("history-row")).toHaveCount(rowCount);

  // The CSV export link of the page just filtered downloads the same filtered history. Its answer is fetched
  // with the page's own cookies rather than through Chromium's download manager, which now and then cancelled
  // a download in CI while the security suite ran beside it; the browser receives the same answer.
  const exportLink = page.getByTestId("export-csv");
  await expect(exportLink).toHaveAttribute("download", "");
  const exportHref = await exportLink.getAttribute("href");
  const exportParameters = new URL(exportHref ?? "", "https://localhost").searchParams;
  expect(exportHref).toMatch(/^\/history\/export\?/);
  expect([exportParameters.get("direction"), exportParameters.get("text")]).toEqual(["in", "harbour"]);
  const exportAnswer = await page.request.get(exportHref ?? "");
  expect(exportAnswer.status(), await exportAnswer.text()).toBe(200);
  expect(exportAnswer.headers()["content-type"]).toBe("text/csv; charset=utf-8");
  expect(exportAnswer.headers()["content-disposition"]).toMatch(/^attachment; filename="harbour-bank-history-\d{4}-\d{2}-\d{2}\.csv"$/);
  const csv = await exportAnswer.text();
  const lines = csv.split("\r\n").filter((line) => line !== "");
  expect(lines[0]).toBe(
    "Date (UTC),Account,Account number,Direction,Amount,Currency,Balance after,Counterparty,Reference,Transfer ID,Transfer kind,Transfer status",
  );
  expect(lines).toHaveLength(rowCount + 1);
  for (const line of lines.slice(1)) expect(line).toMatch(/,in,\d+\.\d\d,GBP,\d+\.\d\d,Harbour Bank,,[0-9a-f-]{36},deposit,posted$/);

  // A malformed amount is refused with a field message and no list.
  await page.goto("/history?min=-5");
  await expect(page.locator("#history-min-errors")).toContainText("without a plus or minus sign");
  await expect(page.getByTestId("history")).toHaveCount(0);

  // A statement for this month: opens at zero (the account was opened this month) and closes at the balance.
  await page.getByRole("link", { name: /^Statements: / }).first().click();
  await expect(page.getByRole("heading", { name: "Statements" })).toBeVisible();
  await page.getByTestId("statement-months").getByRole("link").first().click();
  await expect(page.getByRole("heading", { name: /^Statement for / })).toBeVisible();
  await expect(page.getByTestId("opening-balance")).toHaveText("£0.00");
  await expect(page.getByTestId("statement-row")).not.toHaveCount(0);
  const amountOf = async (testId: string) => minorUnitsIn(await page.getByTestId(testId).innerText());
  expect(await amountOf("total-in")).toBeGreaterThan(0n);
  expect(await amountOf("closing-balance")).toBe((await amountOf("total-in")) - (await amountOf("total-out")));
  const accountId = /\/accounts\/([0-9a-f-]{36})\/statements\//.exec(page.url())?.[1] ?? "";

  // Printing hides the navigation and the print button.
  await page.emulateMedia({ media: "print" });
  await expect(page.locator(".topbar")).toBeHidden();
  await expect(page.getByRole("button", { name: "Print" })).toBeHidden();
  await page.emulateMedia({ media: "screen" });

  // An invalid month and someone else's (or no) account are 404s.
  expect((await page.goto(`/accounts/${accountId}/statements/2026-13`))?.status()).toBe(404);
  expect((await page.goto(`/accounts/${crypto.randomUUID()}/statements/2026-01`))?.status()).toBe(404);

  // The JSON API: amounts as strings of minor units, 404 problem+json for an account that is not hers.
  const api = await page.request.get(`/api/v1/accounts/${accountId}/transactions?direction=in&text=harbour&limit=1`);
  expect(api.status()).toBe(200);
  // The answer has exactly the shape the OpenAPI document publishes.
  const body = accountTransactionsResponseSchema.parse(await api.json());
  expect(body.transactions).toHaveLength(1);
  expect(body.transactions[0]?.amountMinor).toMatch(/^\d+$/);
  expect(body.transactions[0]?.counterparty).toBe("Harbour Bank");
  const foreign = await page.request.get(`/api/v1/accounts/${crypto.randomUUID()}/transactions`);
  expect(foreign.status()).toBe(404);
  expect(foreign.headers()["content-type"]).toContain("application/problem+json");
  const invalid = await page.request.get(`/api/v1/accounts/${accountId}/transactions?cursor=nonsense`);
  expect(invalid.status()).toBe(422);
});
