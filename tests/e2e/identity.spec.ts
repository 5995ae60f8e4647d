import crypto from "node:crypto";
import { type APIRequestContext, type Browser, expect, type Page, test } from "@playwright/test";
import { e2eLockoutSeconds as lockoutSeconds } from "../../playwright.config";
import { signInAs, submitPassword } from "./sign-in-helpers";

// The e2e server runs with a 15-second lockout (playwright.config.ts), so the lockout test waits the lock out
// for real instead of editing the database.
const strongPassword = "Quiet-lantern-harbour-47!";

interface MailboxMessage {
  to: string;
  subject: string;
  text: string;
}

function uniqueEmail(label: string): string {
  return `e2e-${label}-${crypto.randomBytes(4).toString("hex")}@example.com`;
}

/** The development mailbox's messages to one address, newest first. */
async function mailTo(request: APIRequestContext, email: string): Promise<MailboxMessage[]> {
  const response = await request.get(`/dev/mailbox/messages?to=${encodeURIComponent(email)}`);
  expect(response.status()).toBe(200);
  return ((await response.json()) as { messages: MailboxMessage[] }).messages;
}

/** Waits for a message with this subject to arrive (delivery is asynchronous, through the outbox). */
async function waitForMail(request: APIRequestContext, email: string, subject: string): Promise<MailboxMessage> {
  let found: MailboxMessage | undefined;
  await expect
    .poll(
      async () => {
        found = (await mailTo(request, email)).find((message) => message.subject === subject);
        return Boolean(found);
      },
      { timeout: 15_000 },
    )
    .toBe(true);
  if (!found) throw new Error("unreachable");
  return found;
}

function linkIn(message: MailboxMessage): string {
  const match = message.text.match(/https:\/\/\S+token=[A-Za-z0-9_-]{43}/);
  if (!match) throw new Error(`no link in: ${message.text}`);
  return new URL(match[0]).pathname + new URL(match[0]).search;
}

async function fillRegistration(page: Page, email: string, password: string): Promise<void> {
  await page.goto("/register");
  // Enabled once React has hydrated the form: fields typed into before that could be undone by hydration.
  await expect(page.getByRole("button", { name: /open (my|an) account|register/i })).toBeEnabled();
  await page.getByLabel("Legal name").fill("Robin Example");
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Date of birth").fill("1990-04-12");
  await page.getByLabel("Password", { exact: true }).fill(password);
  await page.getByLabel("Confirm password").fill(password);
  await page.getByLabel(/terms/i).check();
}

async function register(page: Page, email: string, password = strongPassword): Promise<void> {
  await fillRegistration(page, email, password);
  await page.getByRole("button", { name: /open (my|an) account|register/i }).click();
  await expect(page.getByRole("status")).toContainText("Check your email");
}

async function verify(page: Page, email: string): Promise<void> {
  const message = await waitForMail(page.request, email, "Confirm your email address");
  await page.goto(linkIn(message));
  await page.getByRole("button", { name: "Confirm my email address" }).click();
  await expect(page.getByRole("status")).toContainText("Your email address is confirmed");
}

/** The password step only, for the answers to wrong passwords, unverified and locked accounts. */
async function signIn(page: Page, email: string, password: string): Promise<void> {
  await submitPassword(page, email, password);
}

// The authenticator secret each new customer enrolled at the first sign-in, by email address, so that later
// sign-ins of the same customer can compute codes.
const secretsByEmail = new Map<string, string>();

/** A whole sign-in: the password, then enrolment (the first time) or a code from the enrolled secret. */
async function signInFully(page: Page, email: string, password: string): Promise<void> {
  const { totpSecret } = await signInAs(page, { email, password, totpSecret: secretsByEmail.get(email) });
  secretsByEmail.set(email, totpSecret);
}

async function expectSignInRefused(page: Page): Promise<void> {
  await expect(page.locator("p.alert")).toHaveText("The email or password is incorrect.");
  await expect(page).toHaveURL(/\/login/);
}

async function newPage(browser: Browser): Promise<Page> {
  const context = await browser.newContext({ ignoreHTTPSErrors: true });
  return context.newPage();
}

test("registration with a weak password shows the failing rules and creates nothing", async ({ page }) => {
  const email = uniqueEmail("weak");
  await fillRegistration(page, email, "password");
  await page.getByRole("button", { name: /open (my|an) account|register/i }).click();
  await expect(page.getByText("Use between 12 and 128 characters.").first()).toBeVisible();
  await expect(page.getByRole("status").filter({ hasText: "Check your email" })).toHaveCount(0);
  // Give a wrongly sent message time to arrive before concluding none was.
  await page.waitForTimeout(2_500);
  expect(await mailTo(page.request, email)).toHaveLength(0);
});

test("a customer registers, verifies by the emailed link, signs in and finds a zero-balance account", async ({ page }) => {
  const email = uniqueEmail("register");
  await register(page, email);
  // Before verification the right password does not sign in.
  await signIn(page, email, strongPassword);
  await expectSignInRefused(page);

  await verify(page, email);
  await signInFully(page, email, strongPassword);
  await expect(page.getByRole("heading", { name: "Your accounts" })).toBeVisible();
  await expect(page.getByTestId("account-row")).toHaveCount(1);
  await expect(page.getByTestId("accounts")).toContainText("£0.00");

  // Registering again with the same address gives the same answer, tells the owner, and changes nothing.
  const stranger = await newPage(page.context().browser() as Browser);
  await register(stranger, email, "Another-completely-different-92?");
  await waitForMail(page.request, email, "Someone tried to register with your email address");
  await stranger.context().close();
  await page.goto("/");
  await expect(page.getByTestId("account-row")).toHaveCount(1);
  const fresh = await newPage(page.context().browser() as Browser);
  await signInFully(fresh, email, strongPassword);
  await expect(fresh.getByRole("heading", { name: "Your accounts" })).toBeVisible();
  await fresh.context().close();
  // The second registration's password was never set.
  const intruder = await newPage(page.context().browser() as Browser);
  await signIn(intruder, email, "Another-completely-different-92?");
  await expectSignInRefused(intruder);
  await intruder.context().close();
});

test("five wrong passwords lock the account; the right one fails until the lock ends", async ({ page }) => {
  test.setTimeout(90_000);
  const email = uniqueEmail("lockout");
  await register(page, email);
  await verify(page, email);
  for (let attempt = 1; attempt <= 5; attempt += 1) {
    await signIn(page, email, `Wrong-password-${attempt}!`);
    await expectSignInRefused(page);
  }
  const lockedAt = Date.now();
  await signIn(page, email, strongPassword);
  await expectSignInRefused(page);
  await waitForMail(page.request, email, "Your account has been locked");

  // Wait the lock out for real.
  await page.waitForTimeout(Math.max(0, lockedAt + lockoutSeconds * 1000 + 1_000 - Date.now()));
  await signInFully(page, email, strongPassword);
  await expect(page.getByRole("heading", { name: "Your accounts" })).toBeVisible();
  await expect(page.getByTestId("lock-notice")).toBeVisible();
  // Shown once.
  await page.reload();
  await expect(page.getByTestId("lock-notice")).toHaveCount(0);
});

test("unknown email, wrong password, unverified and locked accounts get identical answers", async ({ page, browser }) => {
  // Three registrations and nine password checks (argon2id), each in a fresh browser: more than the default.
  test.setTimeout(90_000);
  const verified = uniqueEmail("answers-verified");
  await register(page, verified);
  await verify(page, verified);
  const unverified = uniqueEmail("answers-unverified");
  await register(page, unverified);
  const locked = uniqueEmail("answers-locked");
  await register(page, locked);
  await verify(page, locked);

  // Each answer from a fresh browser (no cookies), through the real sign-in form: what it says and where it is.
  async function answerFor(email: string, password: string) {
    const context = await browser.newContext({ ignoreHTTPSErrors: true });
    const fresh = await context.newPage();
    await signIn(fresh, email, password);
    await expect(fresh.locator("p.alert")).toBeVisible();
    const answer = { path: new URL(fresh.url()).pathname, alert: await fresh.locator("p.alert").innerText() };
    const cookieNames = (await context.cookies()).map((cookie) => cookie.name);
    await context.close();
    return { ...answer, sessionOrTicketCookie: cookieNames.some((name) => /session-token|sign-in/.test(name)) };
  }
  for (let attempt = 1; attempt <= 5; attempt += 1) await answerFor(locked, `Wrong-password-${attempt}!`);

  const answers = [
    await answerFor(uniqueEmail("answers-unknown"), strongPassword),
    await answerFor(verified, "Wrong-password-0!"),
    await answerFor(unverified, strongPassword),
    await answerFor(locked, strongPassword),
  ];
  expect(answers[0]).toEqual({ path: "/login", alert: "The email or password is incorrect.", sessionOrTicketCookie: false });
  for (const answer of answers.slice(1)) expect(answer).toEqual(answers[0]);
});

test("a password reset signs out an open session and the old password stops working", async ({ page, browser }) => {
  const email = uniqueEmail("reset");
  await register(page, email);
  await verify(page, email);
  const openSession = await newPage(browser);
  await signInFully(openSession, email, strongPassword);
  await expect(openSession.getByRole("heading", { name: "Your accounts" })).toBeVisible();

  await page.goto("/forgot-password");
  await page.getByLabel("Email").fill(email);
  await page.getByRole("button", { name: "Send me a reset link" }).click();
  await expect(page.getByRole("status")).toContainText("If an account uses that address");
  // An unknown address gets exactly the same answer.
  await page.goto("/forgot-password");
  await page.getByLabel("Email").fill(uniqueEmail("reset-unknown"));
  await page.getByRole("button", { name: "Send me a reset link" }).click();
  await expect(page.getByRole("status")).toContainText("If an account uses that address");

  const message = await waitForMail(page.request, email, "Reset your password");
  await page.goto(linkIn(message));
  const newPassword = "Brand-new-lighthouse-keeper-58!";
  await page.getByLabel("New password", { exact: true }).fill(newPassword);
  await page.getByLabel("Confirm new password").fill(newPassword);
  await page.getByRole("button", { name: /reset|set new password|save/i }).click();
  await expect(page.getByRole("status")).toContainText(/password (has been|was) (changed|reset)/i);
  await waitForMail(page.request, email, "Your password was changed");

  // The open session is refused on its next request.
  await openSession.reload();
  await expect(openSession).toHaveURL(/\/login/);
  await openSession.context().close();

  await signIn(page, email, strongPassword);
  await expectSignInRefused(page);
  await signInFully(page, email, newPassword);
  await expect(page.getByRole("heading", { name: "Your accounts" })).toBeVisible();

  // The link worked once.
  await page.goto(linkIn(message));
  await expect(page.getByText(/invalid, has already been used or has expired/)).toBeVisible();
});

test("the security page shows login history, a new device is announced, and a password change signs out the other sessions", async ({ page, browser }) => {
  const email = uniqueEmail("security");
  await register(page, email);
  await verify(page, email);
  await signIn(page, email, "Wrong-password-1!");
  await expectSignInRefused(page);
  await signInFully(page, email, strongPassword);
  await expect(page.getByRole("heading", { name: "Your accounts" })).toBeVisible();

  // A second browser (no device cookie from this one) is a device the account has not used before.
  const other = await newPage(browser);
  await signInFully(other, email, strongPassword);
  await expect(other.getByRole("heading", { name: "Your accounts" })).toBeVisible();
  const notice = await waitForMail(page.request, email, "New sign-in to your account");
  expect(notice.text).toContain("Address:");

  await page.goto("/security");
  const history = page.getByRole("region", { name: "Login history" });
  await expect(history).toContainText("Wrong password");
  await expect(history.getByText("Signed in")).toHaveCount(2);

  const newPassword = "Brand-new-lighthouse-keeper-58!";
  await page.getByLabel("Current password", { exact: true }).first().fill(strongPassword);
  await page.getByLabel("New password", { exact: true }).fill(newPassword);
  await page.getByLabel("Confirm new password").fill(newPassword);
  await page.getByRole("button", { name: "Change password" }).click();
  await expect(page.getByText("Your password has been changed.")).toBeVisible();
  await waitForMail(page.request, email, "Your password was changed");

  // This session stays; the other one is refused on its next request.
  await page.reload();
  await expect(page.getByRole("heading", { name: "Security", exact: true })).toBeVisible();
  await other.reload();
  await expect(other).toHaveURL(/\/login/);
  await other.context().close();
});

test("an email change needs the password, is confirmed at the new address and announced at the old one", async ({ page }) => {
  const email = uniqueEmail("change-from");
  const newEmail = uniqueEmail("change-to");
  await register(page, email);
  await verify(page, email);
  await signInFully(page, email, strongPassword);
  await expect(page.getByRole("heading", { name: "Your accounts" })).toBeVisible();
  await page.goto("/security");
  const section = page.getByRole("region", { name: "Email address" });
  await section.getByLabel("New email address").fill(newEmail);
  await section.getByLabel("Current password").fill("Wrong-password-1!");
  await section.getByRole("button", { name: "Change email address" }).click();
  await expect(section.getByText("Your current password is not correct.")).toBeVisible();

  await section.getByLabel("Current password").fill(strongPassword);
  await section.getByRole("button", { name: "Change email address" }).click();
  await expect(section.getByRole("status")).toContainText("We have sent a confirmation link");
  await waitForMail(page.request, email, "A change of your email address was requested");
  const confirmation = await waitForMail(page.request, newEmail, "Confirm your new email address");
  // Until it is confirmed, the old address still signs in.
  await page.goto(linkIn(confirmation));
  await page.getByRole("button", { name: "Confirm my email address" }).click();
  await expect(page.getByRole("status")).toContainText("Your new email address is confirmed");
  await waitForMail(page.request, email, "Your email address was changed");

  const fresh = await newPage(page.context().browser() as Browser);
  await signIn(fresh, email, strongPassword);
  await expectSignInRefused(fresh);
  // The authenticator belongs to the account, not to the address.
  secretsByEmail.set(newEmail, secretsByEmail.get(email) ?? "");
  await signInFully(fresh, newEmail, strongPassword);
  await expect(fresh.getByRole("heading", { name: "Your accounts" })).toBeVisible();
  await fresh.context().close();
});
