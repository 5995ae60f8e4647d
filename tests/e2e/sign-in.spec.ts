import { expect, type Page, test } from "@playwright/test";
import { demoSignIn, type DemoSignIn } from "./demo-credentials";
import { signInAs, submitPassword } from "./sign-in-helpers";

async function signIn(page: Page, person: DemoSignIn): Promise<void> {
  await signInAs(page, person);
}

interface ApiAccount {
  accountNumber: string;
  balanceMinor: string;
  kind: string;
}

async function accountsFromApi(page: Page): Promise<ApiAccount[]> {
  const response = await page.request.get("/api/v1/accounts");
  expect(response.status()).toBe(200);
  return ((await response.json()) as { accounts: ApiAccount[] }).accounts;
}

test("a signed-out visitor to the dashboard is sent to the sign-in page", async ({ page }) => {
  await page.goto("/");
  await expect(page).toHaveURL(/\/login$/);
  await expect(page.getByRole("heading", { name: "Sign in" })).toBeVisible();
});

test("a demo customer signs in and sees exactly their own accounts", async ({ page, browser }) => {
  const alice = demoSignIn((person) => person.email === "alice@example.com");
  await signIn(page, alice);
  await expect(page).toHaveURL(/\/$/);
  await expect(page.getByRole("heading", { name: "Your accounts" })).toBeVisible();

  const shownNumbers = await page.getByTestId("account-row").evaluateAll((rows) =>
    rows.map((row) => row.getAttribute("data-account-number")),
  );
  const aliceAccounts = await accountsFromApi(page);
  expect(shownNumbers.length).toBe(2);
  expect(new Set(shownNumbers)).toEqual(new Set(aliceAccounts.map((account) => account.accountNumber)));
  for (const account of aliceAccounts) expect(BigInt(account.balanceMinor)).toBeGreaterThanOrEqual(5_000_000n);
  // Balances are shown formatted from minor units: the API's minor units of each account, as pounds and pence
  // (other specs move Alice's money, so the figures are read, not assumed).
  for (const account of aliceAccounts) {
    const balanceMinor = BigInt(account.balanceMinor);
    const pounds = (balanceMinor / 100n).toLocaleString("en-GB");
    const pence = (balanceMinor % 100n).toString().padStart(2, "0");
    await expect(page.getByTestId("account-row").filter({ hasText: account.accountNumber })).toContainText(`£${pounds}.${pence}`);
  }

  // Bob's accounts are nowhere on Alice's page.
  const bobContext = await browser.newContext();
  const bobPage = await bobContext.newPage();
  await signIn(bobPage, demoSignIn((person) => person.email === "bob@example.com"));
  await expect(bobPage.getByRole("heading", { name: "Your accounts" })).toBeVisible();
  const bobAccounts = await accountsFromApi(bobPage);
  await bobContext.close();
  expect(bobAccounts).toHaveLength(2);
  const pageText = await page.locator("main").innerText();
  for (const account of bobAccounts) expect(pageText).not.toContain(account.accountNumber);
});

test("a wrong password stays on sign-in with a generic message", async ({ page }) => {
  const alice = demoSignIn((person) => person.email === "alice@example.com");
  await submitPassword(page, alice.email, `${alice.password}x`);
  const alert = page.locator("p.alert");
  await expect(alert).toHaveText("The email or password is incorrect.");
  await expect(page).toHaveURL(/\/login$/);

  // An unknown address gets exactly the same answer, so the form does not reveal who has an account.
  await submitPassword(page, "nobody@example.com", alice.password);
  await expect(page.locator("p.alert")).toHaveText("The email or password is incorrect.");
  const response = await page.request.get("/api/v1/accounts");
  expect(response.status()).toBe(401);
});

test("signing out ends the session", async ({ page }) => {
  await signIn(page, demoSignIn((person) => person.email === "bob@example.com"));
  await expect(page.getByRole("heading", { name: "Your accounts" })).toBeVisible();
  await page.getByRole("button", { name: "Sign out" }).click();
  await expect(page).toHaveURL(/\/login$/);
  expect((await page.request.get("/api/v1/accounts")).status()).toBe(401);
  await page.goto("/");
  await expect(page).toHaveURL(/\/login$/);
});

test("staff land in the back office, and the customer pages and API answer 404 for them", async ({ page }) => {
  await signIn(page, demoSignIn((person) => person.role === "admin"));
  await expect(page).toHaveURL(/\/admin$/);
  await expect(page.getByRole("heading", { name: "Overview" })).toBeVisible();
  expect((await page.request.get("/")).status()).toBe(404);
  expect((await page.request.get("/payees")).status()).toBe(404);
  const response = await page.request.get("/api/v1/accounts");
  expect(response.status()).toBe(404);
  expect(response.headers()["content-type"]).toContain("application/problem+json");
});
