import { expect, type Locator, test } from "@playwright/test";
import { demoSignIn } from "./demo-credentials";
import { freshTotpCode, signInAs } from "./sign-in-helpers";

/**
 * A customer's whole path to paying someone new, in Chromium against the built app: Alice adds Bob with a
 * misspelt name, sees the confirmation-of-payee close match with Bob's real name, takes it, saves with a code
 * from her authenticator (a step-up bound to the payee) and sees Bob listed. She then pays him: the first
 * payment to a payee saved today needs a code bound to that very payment, after which it is posted once, and
 * it shows in her history and in the CSV she exports.
 *
 * Account numbers are random per install, so Bob's is read from his own dashboard in a separate browser
 * context first (the dashboard rows carry `data-account-number`), never guessed or hard-coded.
 */
/** Chooses the option of a select whose text contains `text`. */
async function choose(select: Locator, text: string): Promise<void> {
  const value = await select.locator("option", { hasText: text }).first().getAttribute("value");
  if (value === null) throw new Error(`no option containing ${text}`);
  await select.selectOption(value);
}

test("a customer saves a payee through confirmation of payee, pays them with a bound confirmation, and finds the payment in history and the CSV", async ({
  browser,
  page,
}) => {
  // Three codes (sign-in, saving the payee, the payment) may each wait for a fresh 30-second step.
  test.setTimeout(180_000);
  const alice = demoSignIn((person) => person.legalName === "Alice Atkinson");
  const bob = demoSignIn((person) => person.legalName === "Bob Brennan");

  const bobContext = await browser.newContext();
  const bobPage = await bobContext.newPage();
  await signInAs(bobPage, bob);
  const bobAccountNumber = await bobPage.getByTestId("account-row").first().getAttribute("data-account-number");
  await bobContext.close();
  expect(bobAccountNumber).toMatch(/^[0-9]{10}$/);
  if (!bobAccountNumber) throw new Error("no account number on Bob's dashboard");

  const { totpSecret } = await signInAs(page, alice);
  await page.goto("/payees");
  await expect(page.getByRole("heading", { name: "Payees", level: 1 })).toBeVisible();
  await page.getByLabel("Account number").fill(bobAccountNumber);
  await page.getByLabel("Name on the account").fill("Bob Brenan");
  await page.getByRole("button", { name: "Check" }).click();

  const result = page.getByTestId("payee-check-result");
  await expect(result).toHaveAttribute("data-result", "close_match");
  await expect(result).toContainText("The name on the account is Bob Brennan");
  await result.getByRole("button", { name: "Use Bob Brennan" }).click();
  await expect(result).toContainText("Name matches the account.");
  await expect(page.getByLabel("Name on the account")).toHaveValue("Bob Brennan");

  await result.getByRole("button", { name: "Save payee" }).click();
  const prompt = page.getByTestId("step-up-prompt");
  await expect(prompt).toBeVisible();
  await prompt.getByLabel("Authentication code").fill(await freshTotpCode(totpSecret));
  await prompt.getByRole("button", { name: "Confirm" }).click();

  await expect(page.getByTestId("payee-saved")).toContainText("Bob Brennan is saved as a payee.");
  const row = page.getByTestId("payee-row").filter({ hasText: bobAccountNumber });
  await expect(row).toContainText("Bob Brennan");
  await expect(row).toContainText("Name matched");

  await test.step("the first payment to the new payee asks for a code bound to it, then posts once", async () => {
    await page.goto("/move-money");
    await choose(page.getByLabel("From"), "Everyday");
    await choose(page.getByLabel("To"), `Bob Brennan (${bobAccountNumber})`);
    await page.getByLabel("Amount").fill("12.34");
    await page.getByLabel("Reference (optional)").fill("E2E first payment");
    await page.getByRole("button", { name: "Send" }).click();

    const confirmation = page.getByTestId("transfer-confirmation");
    await expect(confirmation).toContainText("£12.34");
    await expect(confirmation).toContainText(`to Bob Brennan (${bobAccountNumber})`);
    await expect(page.getByTestId("move-money-receipt")).toHaveCount(0);
    const paymentPrompt = confirmation.getByTestId("step-up-prompt");
    await paymentPrompt.getByLabel("Authentication code").fill(await freshTotpCode(totpSecret));
    await paymentPrompt.getByRole("button", { name: "Confirm", exact: true }).click();
    const receipt = page.getByTestId("move-money-receipt");
    await expect(receipt).toContainText("Money moved");
    await expect(receipt).toHaveAttribute("data-status", "posted");
    await expect(receipt).toContainText("£12.34 from Everyday");
  });

  await test.step("the payment is in her history, once, and in the CSV export", async () => {
    await page.goto(`/history?${new URLSearchParams({ direction: "out", text: "E2E first payment" })}`);
    const row = page.getByTestId("history-row");
    await expect(row).toHaveCount(1);
    await expect(row).toContainText("Bob Brennan");
    await expect(row).toContainText("£12.34");

    // The export link's answer, fetched with the page's cookies (see history.spec.ts for why not through
    // Chromium's download manager).
    const exportLink = page.getByTestId("export-csv");
    await expect(exportLink).toHaveAttribute("download", "");
    const exportAnswer = await page.request.get((await exportLink.getAttribute("href")) ?? "");
    expect(exportAnswer.status(), await exportAnswer.text()).toBe(200);
    expect(exportAnswer.headers()["content-disposition"]).toMatch(/^attachment; filename="harbour-bank-history-/);
    const csv = await exportAnswer.text();
    const lines = csv.split("\r\n").filter((line) => line !== "");
    expect(lines).toHaveLength(2);
    expect(lines[1]).toMatch(/,Everyday,\d{10},out,12\.34,GBP,\d+\.\d\d,Bob Brennan,E2E first payment,[0-9a-f-]{36},external,posted$/);
  });
});
