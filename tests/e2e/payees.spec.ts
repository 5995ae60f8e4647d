import { expect, test } from "@playwright/test";
import { demoSignIn } from "./demo-credentials";
import { freshTotpCode, signInAs } from "./sign-in-helpers";

/**
 * Adding a payee in Chromium against the built app: Alice adds Bob with a misspelt name, sees the
 * confirmation-of-payee close match with Bob's real name, takes it, saves with a code from her authenticator
 * (a step-up bound to the payee) and sees Bob listed.
 *
 * Account numbers are random per install, so Bob's is read from his own dashboard in a separate browser
 * context first (the dashboard rows carry `data-account-number`), never guessed or hard-coded.
 */
test("a customer adds another customer as a payee through confirmation of payee and a step-up", async ({ browser, page }) => {
  test.setTimeout(120_000);
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
});
