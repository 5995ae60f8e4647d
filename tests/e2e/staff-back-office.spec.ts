import { type Browser, type BrowserContext, expect, type Locator, type Page, test } from "@playwright/test";
import { shortIdleDataDirectory, shortIdleOrigin } from "../../playwright.config";
import { demoSignIn, type DemoSignIn } from "./demo-credentials";
import { type MailboxMessage, mailboxLink, newCustomerPassword, registerVerifiedCustomer } from "./new-customer";
import { completeEnrolment, freshTotpCode, signInAs, submitPassword } from "./sign-in-helpers";

/**
 * The back office in Chromium against the built app, with the seeded staff: Ada and Alan (admins), Sam
 * (support). Each staff member and customer has a browser context of their own, as they would have a browser
 * of their own. Every sensitive action goes through the real step-up prompt with a code from the person's
 * authenticator.
 *
 * The file is named so that it runs after dev-mailbox.spec.ts, which expects the main server's mailbox empty.
 */

function staff(legalName: string, dataDirectory?: string): DemoSignIn {
  return demoSignIn((person) => person.legalName === legalName, dataDirectory);
}

async function newPage(browser: Browser, baseURL?: string): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ ignoreHTTPSErrors: true, ...(baseURL ? { baseURL } : {}) });
  return { context, page: await context.newPage() };
}

/** Answers the step-up prompt inside `scope` with a fresh code from `totpSecret`. */
async function confirmWithCode(scope: Locator | Page, totpSecret: string): Promise<void> {
  const prompt = scope.getByTestId("step-up-prompt");
  await expect(prompt).toBeVisible();
  await prompt.getByLabel("Authentication code").fill(await freshTotpCode(totpSecret));
  await prompt.getByRole("button", { name: "Confirm", exact: true }).click();
}

/** Finds a customer by exact email on /admin/customers and opens their page. */
async function openCustomer(page: Page, email: string): Promise<void> {
  await page.goto("/admin/customers");
  await page.getByLabel("Email, account number or customer id").fill(email);
  await page.getByRole("button", { name: "Find" }).click();
  const results = page.getByTestId("customer-results");
  await expect(results.getByRole("row")).toHaveCount(2);
  await results.getByRole("link").click();
  await expect(page.getByRole("heading", { name: "Customer", level: 1 })).toBeVisible();
}

test("an admin finds a customer, reveals a masked field with a reason, and the audit trail shows who, what and why", async ({ browser }) => {
  test.setTimeout(120_000);
  const ada = staff("Ada Admin");
  const { context, page } = await newPage(browser);
  await signInAs(page, ada, { landing: /Overview/ });
  await openCustomer(page, "alice@example.com");

  const phone = page.getByTestId("profile-phone");
  await expect(phone).not.toContainText("+447700900123");
  await phone.getByRole("button", { name: "Reveal phone" }).click();
  const reason = `Customer called to confirm her phone number, ticket E2E-${Date.now()}`;
  await phone.getByLabel("Why do you need to see the phone?").fill(reason);
  await phone.getByRole("button", { name: "Reveal", exact: true }).click();
  await confirmWithCode(phone, ada.totpSecret);
  await expect(phone).toContainText("+447700900123");
  await expect(phone).toContainText("hidden again in");

  await page.goto(`/admin/audit?${new URLSearchParams({ action: "staff.customer.pii_revealed" })}`);
  const row = page.getByTestId("audit-event-row").filter({ hasText: reason });
  await expect(row).toHaveCount(1);
  await expect(row).toContainText("(admin)");
  await expect(row).toContainText("phone");
  // The value itself never enters the trail.
  await expect(row).not.toContainText("+447700900123");
  await context.close();
});

test("support clears a customer's sign-in lock, and the customer signs in at once", async ({ browser }) => {
  test.setTimeout(150_000);
  // The short-idle server keeps the default 15-minute lockout (the main one waits locks out in 15 seconds), so
  // a sign-in right after the clearing can only be the clearing's doing.
  const customer = await newPage(browser, shortIdleOrigin);
  const email = await registerVerifiedCustomer(customer.page, "cleared-lock");
  for (let attempt = 1; attempt <= 5; attempt += 1) {
    await submitPassword(customer.page, email, `Wrong-password-${attempt}!`);
    await expect(customer.page.locator("p.alert")).toHaveText("The email or password is incorrect.");
  }
  // Locked: the right password is refused like a wrong one.
  await submitPassword(customer.page, email, newCustomerPassword);
  await expect(customer.page.locator("p.alert")).toHaveText("The email or password is incorrect.");

  const sam = staff("Sam Support", shortIdleDataDirectory);
  const support = await newPage(browser, shortIdleOrigin);
  await signInAs(support.page, sam, { landing: /Overview/ });
  await openCustomer(support.page, email);
  const lock = support.page.getByTestId("customer-lock");
  await expect(lock.getByRole("heading", { name: "Sign-in locked" })).toBeVisible();
  await lock.getByRole("button", { name: "Clear sign-in lock" }).click();
  await expect(lock.getByRole("status")).toHaveText("The lock is cleared. The customer can sign in now.");
  // The page, read again from the database, no longer shows a lock.
  await support.page.reload();
  await expect(support.page.getByTestId("customer-lock")).toHaveCount(0);

  await submitPassword(customer.page, email, newCustomerPassword);
  await customer.page.waitForURL(/\/login\/enrol/);
  await completeEnrolment(customer.page);
  await expect(customer.page.getByRole("heading", { name: "Your accounts" })).toBeVisible();
  await Promise.all([customer.context.close(), support.context.close()]);
});

test("a held payment: an admin who reviewed it first cannot approve it, support cannot approve at all, a second admin posts it and the customer sees it", async ({
  browser,
}) => {
  // Seven codes over four people; each may wait for a fresh 30-second step.
  test.setTimeout(300_000);
  const bob = demoSignIn((person) => person.legalName === "Bob Brennan");
  const ada = staff("Ada Admin");
  const alan = staff("Alan Admin");
  const sam = staff("Sam Support");

  // Ada reads Alice's account number from Alice's page in the back office.
  const first = await newPage(browser);
  await signInAs(first.page, ada, { landing: /Overview/ });
  await openCustomer(first.page, "alice@example.com");
  const aliceAccountNumber = (await first.page.getByTestId("customer-accounts").locator("tbody tr").first().locator("td").first().innerText()).trim();
  expect(aliceAccountNumber).toMatch(/^[0-9]{10}$/);

  // Bob saves Alice as a payee and pays her £3,000.00, above the £2,500.00 review threshold.
  const customer = await newPage(browser);
  await signInAs(customer.page, bob, { landing: /Your accounts/ });
  await customer.page.goto("/payees");
  await customer.page.getByLabel("Account number").fill(aliceAccountNumber);
  await customer.page.getByLabel("Name on the account").fill("Alice Atkinson");
  await customer.page.getByRole("button", { name: "Check" }).click();
  const check = customer.page.getByTestId("payee-check-result");
  await expect(check).toHaveAttribute("data-result", "exact_match");
  await check.getByRole("button", { name: "Save payee" }).click();
  await confirmWithCode(customer.page, bob.totpSecret);
  await expect(customer.page.getByTestId("payee-saved")).toContainText("Alice Atkinson is saved as a payee.");

  const reference = `E2E held ${Date.now().toString(36)}`;
  await customer.page.goto("/move-money");
  const from = customer.page.getByLabel("From");
  await from.selectOption((await from.locator("option", { hasText: "Current" }).first().getAttribute("value")) ?? "");
  const to = customer.page.getByLabel("To");
  await to.selectOption((await to.locator("option", { hasText: `Alice Atkinson (${aliceAccountNumber})` }).first().getAttribute("value")) ?? "");
  await customer.page.getByLabel("Amount").fill("3000.00");
  await customer.page.getByLabel("Reference (optional)").fill(reference);
  await customer.page.getByRole("button", { name: "Send" }).click();
  await confirmWithCode(customer.page.getByTestId("transfer-confirmation"), bob.totpSecret);
  const receipt = customer.page.getByTestId("move-money-receipt");
  await expect(receipt).toHaveAttribute("data-status", "held");
  await expect(receipt).toContainText("Payment held for review");

  // Ada reviews it first (a comment), and so may not approve it herself.
  await first.page.goto("/admin/transfers");
  const queueRow = first.page.getByTestId("held-transfer-row").filter({ hasText: "£3,000.00" });
  await expect(queueRow).toHaveCount(1);
  await queueRow.getByRole("link", { name: "Review" }).click();
  await expect(first.page.getByRole("heading", { name: "Held transfer", exact: true, level: 1 })).toBeVisible();
  const transferPath = new URL(first.page.url()).pathname;
  await first.page.getByLabel("Comment").fill("Called Bob: he confirms the payment to Alice.");
  await first.page.getByRole("button", { name: "Add comment" }).click();
  await expect(first.page.getByRole("status").filter({ hasText: "Your comment is added." })).toBeVisible();
  await first.page.reload();
  await expect(first.page.getByTestId("approve-unavailable")).toHaveText(
    "You reviewed this transfer first, so a different staff member must approve it (four eyes).",
  );
  await expect(first.page.getByTestId("approve-form")).toHaveCount(0);

  // Sam (support) may comment and reject, but is never offered an approval.
  const support = await newPage(browser);
  await signInAs(support.page, sam, { landing: /Overview/ });
  await support.page.goto(transferPath);
  await expect(support.page.getByTestId("reviews")).toContainText("Called Bob");
  await expect(support.page.getByTestId("comment-form")).toBeVisible();
  await expect(support.page.getByTestId("approve-form")).toHaveCount(0);
  await expect(support.page.getByTestId("approve-unavailable")).toHaveCount(0);

  // Alan approves with a code bound to this transfer: one approval is enough below £10,000.00.
  const second = await newPage(browser);
  await signInAs(second.page, alan, { landing: /Overview/ });
  await second.page.goto(transferPath);
  await second.page.getByLabel("Note (optional)").fill("Confirmed with the customer by Ada.");
  await second.page.getByRole("button", { name: "Approve" }).click();
  await confirmWithCode(second.page, alan.totpSecret);
  await expect(second.page.getByTestId("held-transfer")).toContainText("Approved and posted");
  await expect(second.page.getByTestId("reviews").getByRole("listitem")).toHaveCount(2);
  await expect(second.page.getByTestId("reviews").getByRole("listitem").nth(1)).toContainText("Approval by you");

  // Bob sees it posted: in his history, with the money gone from the posted balance too.
  await customer.page.goto(`/history?${new URLSearchParams({ direction: "out", text: reference })}`);
  const historyRow = customer.page.getByTestId("history-row");
  await expect(historyRow).toHaveCount(1);
  await expect(historyRow).toContainText("Alice Atkinson");
  await expect(historyRow).toContainText("£3,000.00");
  await first.page.goto("/admin/transfers");
  await expect(first.page.getByTestId("held-transfer-row").filter({ hasText: "£3,000.00" })).toHaveCount(0);
  await Promise.all([first.context.close(), customer.context.close(), support.context.close(), second.context.close()]);
});

test("an MFA reset requested by support and approved by an admin reaches the customer as a single-use email link", async ({ browser }) => {
  test.setTimeout(300_000);
  const sam = staff("Sam Support");
  const ada = staff("Ada Admin");

  // A customer of this test's own, enrolled at their first sign-in.
  const customer = await newPage(browser);
  const email = await registerVerifiedCustomer(customer.page, "mfa-reset");
  const { totpSecret: lostSecret } = await signInAs(customer.page, { email, password: newCustomerPassword }, { landing: /Your accounts/ });

  // Sam requests the reset from the customer's page, with a reason and a code bound to this customer.
  const support = await newPage(browser);
  await signInAs(support.page, sam, { landing: /Overview/ });
  await openCustomer(support.page, email);
  const customerId = (await support.page.locator("p.muted code").first().innerText()).trim();
  const requestForm = support.page.getByTestId("mfa-reset-request-form");
  await requestForm.getByLabel("Reason (how the customer's identity was checked)").fill("Lost phone; identity checked by video call.");
  await requestForm.getByRole("button", { name: "Request second-factor reset" }).click();
  await confirmWithCode(support.page, sam.totpSecret);
  await expect(support.page.getByTestId("mfa-reset-requested")).toBeVisible();
  // Sam may not approve it: support never approves, and nobody approves their own request.
  await support.page.goto("/admin/mfa-resets");
  const samsRow = support.page.getByRole("row").filter({ has: support.page.locator("code", { hasText: customerId }) });
  await expect(samsRow).toContainText("Another staff member must approve.");
  await expect(samsRow.getByRole("button", { name: "Approve reset" })).toHaveCount(0);

  // Nothing has changed for the customer yet: no email.
  const mailbox = await customer.page.request.get(`/dev/mailbox/messages?to=${encodeURIComponent(email)}`);
  const { messages } = (await mailbox.json()) as { messages: MailboxMessage[] };
  expect(messages.filter((message) => message.subject === "Your second factor was reset")).toHaveLength(0);

  // Ada approves it with a code bound to the request.
  const admin = await newPage(browser);
  await signInAs(admin.page, ada, { landing: /Overview/ });
  await admin.page.goto("/admin/mfa-resets");
  const adasRow = admin.page.getByRole("row").filter({ has: admin.page.locator("code", { hasText: customerId }) });
  await expect(adasRow).toContainText("Sam Support");
  await adasRow.getByRole("button", { name: "Approve reset" }).click();
  await confirmWithCode(adasRow, ada.totpSecret);
  await expect(adasRow).toHaveCount(0);

  // The customer was signed out, and the old authenticator no longer signs in.
  await customer.page.goto("/");
  await expect(customer.page).toHaveURL(/\/login/);

  // The emailed link, with the password, enrols a new authenticator once.
  const link = await mailboxLink(customer.page.request, email, "Your second factor was reset");
  await customer.page.goto(link);
  await customer.page.getByLabel("Your password").fill(newCustomerPassword);
  await customer.page.getByRole("button", { name: "Continue" }).click();
  const newSecret = (await customer.page.getByTestId("totp-secret").innerText()).replaceAll(/\s+/g, "").toUpperCase();
  expect(newSecret).not.toBe(lostSecret);
  await customer.page.getByLabel("Code from the app").fill(await freshTotpCode(newSecret));
  await customer.page.getByRole("button", { name: "Set up authenticator" }).click();
  await expect(customer.page.getByTestId("reenrolment-done")).toBeVisible();
  await expect(customer.page.getByTestId("recovery-code")).toHaveCount(10);

  // The link is spent.
  await customer.page.goto(link);
  await expect(customer.page.locator("p.alert")).toContainText("This link is invalid, has already been used or has expired.");
  await expect(customer.page.getByLabel("Your password")).toHaveCount(0);

  // The new authenticator signs in.
  await signInAs(customer.page, { email, password: newCustomerPassword, totpSecret: newSecret }, { landing: /Your accounts/ });
  await Promise.all([customer.context.close(), support.context.close(), admin.context.close()]);
});
