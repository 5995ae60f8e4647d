import { type Browser, expect, type Page, test } from "@playwright/test";
import { demoSignIn } from "./demo-credentials";
import { newCustomerPassword as strongPassword, registerVerifiedCustomer } from "./new-customer";
import {
  completeEnrolment,
  freshTotpCode,
  submitPassword,
  submitRecoveryCode,
  submitTotpCode,
  wrongTotpCode,
} from "./sign-in-helpers";

// Sign-in is two steps for everyone (issue 5): the password earns only a short-lived ticket, and a session
// exists only after a code from the authenticator (or a recovery code), or after enrolling one at a first
// sign-in. These tests drive the real pages and compute codes from the secret the enrolment page shows.

const sessionCookieName = "__Secure-authjs.session-token";
const ticketCookieName = "__Host-bank-sign-in-ticket";
const wrongCodeMessage = "That code is not right. Please try again.";

async function signOut(page: Page): Promise<void> {
  await page.getByRole("button", { name: "Sign out" }).click();
  await expect(page).toHaveURL(/\/login$/);
}

async function expectDashboard(page: Page): Promise<void> {
  await expect(page.getByRole("heading", { name: "Your accounts" })).toBeVisible();
  expect((await page.request.get("/api/v1/accounts")).status()).toBe(200);
}

async function freshPage(browser: Browser): Promise<Page> {
  const context = await browser.newContext({ ignoreHTTPSErrors: true });
  return context.newPage();
}

test("a new customer must enrol at first sign-in; then password and code sign in, each code and recovery code once", async ({ page }) => {
  test.setTimeout(120_000);
  const email = await registerVerifiedCustomer(page, "enrol");

  // The password alone leads to enrolment, not to a session.
  await submitPassword(page, email, strongPassword);
  await expect(page).toHaveURL(/\/login\/enrol/);
  expect((await page.request.get("/api/v1/accounts")).status()).toBe(401);
  await expect(page.getByRole("img", { name: "QR code for your authenticator app" })).toHaveAttribute(
    "src",
    /^data:image\/svg\+xml;base64,/,
  );
  await expect(page.getByText("Secret key:")).toBeVisible();
  const { totpSecret, recoveryCodes } = await completeEnrolment(page);
  expect(new Set(recoveryCodes).size).toBe(10);
  await expectDashboard(page);
  await signOut(page);

  // Password and a code from the app.
  await submitPassword(page, email, strongPassword);
  await expect(page).toHaveURL(/\/login\/second-factor/);
  expect((await page.request.get("/api/v1/accounts")).status()).toBe(401);
  const code = await freshTotpCode(totpSecret);
  await submitTotpCode(page, code);
  await expectDashboard(page);
  await signOut(page);

  // The same code a second time is refused, with the generic message.
  await submitPassword(page, email, strongPassword);
  await expect(page).toHaveURL(/\/login\/second-factor/);
  await submitTotpCode(page, code);
  await expect(page.locator("p.alert")).toHaveText(wrongCodeMessage);
  await expect(page).toHaveURL(/\/login\/second-factor/);
  expect((await page.request.get("/api/v1/accounts")).status()).toBe(401);

  // A recovery code works, once.
  const [recoveryCode] = recoveryCodes;
  if (!recoveryCode) throw new Error("no recovery code shown");
  await submitRecoveryCode(page, recoveryCode);
  await expectDashboard(page);
  await signOut(page);
  await submitPassword(page, email, strongPassword);
  await expect(page).toHaveURL(/\/login\/second-factor/);
  await submitRecoveryCode(page, recoveryCode);
  await expect(page.locator("p.alert")).toHaveText(wrongCodeMessage);
  expect((await page.request.get("/api/v1/accounts")).status()).toBe(401);
});

test("five wrong codes lock the account: the ticket ends and even the right password is refused", async ({ page, browser }) => {
  test.setTimeout(90_000);
  const email = await registerVerifiedCustomer(page, "lock");
  await submitPassword(page, email, strongPassword);
  const { totpSecret } = await completeEnrolment(page);
  await expectDashboard(page);
  await signOut(page);

  await submitPassword(page, email, strongPassword);
  await expect(page).toHaveURL(/\/login\/second-factor/);
  for (let attempt = 1; attempt <= 5; attempt += 1) {
    await submitTotpCode(page, await wrongTotpCode(totpSecret));
    await expect(page.locator("p.alert")).toHaveText(wrongCodeMessage);
  }
  // The right code on the same page now finds no ticket: back to the start, with a plain sentence.
  await submitTotpCode(page, await freshTotpCode(totpSecret));
  await expect(page).toHaveURL(/\/login\?reason=ticket$/);
  await expect(page.getByTestId("signed-out-notice")).toContainText("Please sign in again");
  expect((await page.request.get("/api/v1/accounts")).status()).toBe(401);

  // The right password is refused during the lock, with the usual generic answer, from any browser.
  const other = await freshPage(browser);
  await submitPassword(other, email, strongPassword);
  await expect(other.locator("p.alert")).toHaveText("The email or password is incorrect.");
  await expect(other).toHaveURL(/\/login$/);
  await other.context().close();
});

test("a sign-in ticket is not a session: not as a session cookie, not on its own, not on the API", async ({ page, browser }) => {
  const alice = demoSignIn((person) => person.email === "alice@example.com");
  await submitPassword(page, alice.email, alice.password);
  await expect(page).toHaveURL(/\/login\/second-factor/);
  const cookies = await page.context().cookies();
  const ticket = cookies.find((cookie) => cookie.name === ticketCookieName);
  expect(ticket?.httpOnly).toBe(true);
  expect(ticket?.secure).toBe(true);
  expect(ticket?.sameSite).toBe("Lax");
  expect(cookies.some((cookie) => cookie.name === sessionCookieName)).toBe(false);

  // The browser holding the ticket is not signed in.
  expect((await page.request.get("/api/v1/accounts")).status()).toBe(401);
  await page.goto("/");
  await expect(page).toHaveURL(/\/login$/);

  // The ticket's value presented as a session cookie is refused by pages and by the API.
  const thief = await browser.newContext({ ignoreHTTPSErrors: true });
  const origin = new URL(test.info().project.use.baseURL ?? "");
  await thief.addCookies([
    { name: sessionCookieName, value: ticket?.value ?? "", domain: origin.hostname, path: "/", secure: true, httpOnly: true },
  ]);
  const thiefPage = await thief.newPage();
  await thiefPage.goto("/");
  await expect(thiefPage).toHaveURL(/\/login$/);
  const api = await thief.request.get("/api/v1/accounts");
  expect(api.status()).toBe(401);
  await thief.close();
});

test("a direct POST of the password to Auth.js's credentials callback creates no session", async ({ playwright }) => {
  const alice = demoSignIn((person) => person.email === "alice@example.com");
  const baseURL = test.info().project.use.baseURL ?? "";
  const client = await playwright.request.newContext({ baseURL, ignoreHTTPSErrors: true });
  const { csrfToken } = (await (await client.get("/api/auth/csrf")).json()) as { csrfToken: string };
  for (const path of ["/api/auth/callback/credentials", "/api/auth/callback/ticket"]) {
    const response = await client.post(path, {
      form: { email: alice.email, password: alice.password, ticket: "x", binding: "y", csrfToken },
      headers: { origin: new URL(baseURL).origin },
      maxRedirects: 0,
    });
    expect(response.status(), path).toBeLessThan(500);
    const setCookies = response.headersArray().filter((header) => header.name.toLowerCase() === "set-cookie");
    expect(setCookies.some((header) => header.value.startsWith(`${sessionCookieName}=`) && !/Max-Age=0|Expires=Thu, 01 Jan 1970/i.test(header.value)), path).toBe(false);
    expect((await client.get("/api/v1/accounts")).status(), path).toBe(401);
  }
  await client.dispose();
});
