import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { expect, type Page, test } from "@playwright/test";
import { generate } from "otplib";

/** Who signs in: an email, a password and, once enrolled, the authenticator secret (base32). */
export interface SignInPerson {
  email: string;
  password: string;
  totpSecret?: string;
}

const totpPeriodMilliseconds = 30_000;
// The previous step's code is used only while the current step has at least this long to run.
const previousStepMarginMilliseconds = 10_000;

// The last TOTP time step used per secret. The bank accepts each step's code once per user (replay protection)
// and accepts the previous, current and next step. So the helper hands out steps in strictly increasing order:
// the previous one while the current step has more than ten seconds left (so that the server's clock is still
// in the same step when the code arrives), then the current one, then the next one, and only then waits until
// a step is free. Three codes per 30-second step instead of two: the suite signs the same two demo customers
// in again and again, and most of its time was spent waiting here. The record is a
// small file per secret (named by its hash) rather than memory, because Playwright replaces its worker process
// after a failing test, and a fresh worker reusing a spent step would count as a wrong code towards the lock.
// Each suite runs one worker at a time (its Playwright config), and the two suites, which ./run.sh test runs
// side by side, have their own seeded users and so their own secrets: no file is ever written by two at once.
const stepDirectory = path.join(os.tmpdir(), "harbour-bank-test-totp-steps");

function stepFile(key: string): string {
  return path.join(stepDirectory, crypto.createHash("sha256").update(key).digest("hex").slice(0, 32));
}

function lastStepUsed(key: string): number {
  try {
    const value = Number(fs.readFileSync(stepFile(key), "utf8"));
    return Number.isFinite(value) ? value : Number.NEGATIVE_INFINITY;
  } catch {
    return Number.NEGATIVE_INFINITY;
  }
}

function recordStepUsed(key: string, step: number): void {
  fs.mkdirSync(stepDirectory, { recursive: true });
  fs.writeFileSync(stepFile(key), String(Math.max(step, lastStepUsed(key))));
}

function normaliseSecret(secret: string): string {
  return secret.replaceAll(/\s+/g, "").toUpperCase();
}

/** Records that a code of `step` was used for `secret` outside the helper (an enrolment, a step-up). */
export function rememberTotpStepUsed(secret: string, step: number): void {
  recordStepUsed(normaliseSecret(secret), step);
}

/**
 * A code the bank has not seen for this secret yet. Waits (and lengthens the test's timeout by as much) when
 * the current and the next step are both used already.
 */
export async function freshTotpCode(secret: string): Promise<string> {
  const key = normaliseSecret(secret);
  const now = Date.now();
  const currentStep = Math.floor(now / totpPeriodMilliseconds);
  const millisecondsLeftInStep = (currentStep + 1) * totpPeriodMilliseconds - now;
  const earliestStep = millisecondsLeftInStep > previousStepMarginMilliseconds ? currentStep - 1 : currentStep;
  const step = Math.max(earliestStep, lastStepUsed(key) + 1);
  // Claimed before any waiting, so that two sign-ins running side by side never get the same step.
  recordStepUsed(key, step);
  if (step > currentStep + 1) {
    // Wait until `step` is at most one ahead of the server's clock, with a little margin.
    const waitMilliseconds = (step - 1) * totpPeriodMilliseconds - Date.now() + 500;
    test.info().setTimeout(test.info().timeout + waitMilliseconds + 20_000);
    await new Promise((resolve) => setTimeout(resolve, waitMilliseconds));
  }
  return generate({ secret: key, epoch: (step * totpPeriodMilliseconds) / 1000 });
}

/** A code that is certainly wrong for this secret now (not the code of any step near the current one). */
export async function wrongTotpCode(secret: string): Promise<string> {
  const key = normaliseSecret(secret);
  const now = Math.floor(Date.now() / 1000);
  const near = new Set(await Promise.all([-2, -1, 0, 1, 2].map((offset) => generate({ secret: key, epoch: now + offset * 30 }))));
  const wrong = ["000000", "111111", "222222", "333333", "444444", "555555"].find((candidate) => !near.has(candidate));
  if (!wrong) throw new Error("no wrong code found");
  return wrong;
}

/** The password step only: fills and submits the form on /login. */
export async function submitPassword(page: Page, email: string, password: string, path = "/login"): Promise<void> {
  await page.goto(path);
  // The button is enabled once React has hydrated the form; typing before that could be undone by hydration.
  await expect(page.getByRole("button", { name: "Sign in" })).toBeEnabled();
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password", { exact: true }).fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
}

/** Clicks a button of the second step and waits for its server action's answer (not just for the click). */
async function clickAndAwaitAction(page: Page, button: string): Promise<void> {
  const answered = page.waitForResponse(
    (response) => response.request().method() === "POST" && new URL(response.url()).pathname.startsWith("/login/"),
  );
  await page.getByRole("button", { name: button }).click();
  await answered;
}

/**
 * Waits until the form is idle: React resets the fields of a form when its action finishes, so a code typed
 * while the previous attempt is still pending would be wiped before it is sent.
 */
async function formIsIdle(page: Page): Promise<void> {
  await expect(page.getByRole("button", { name: "Verify" })).toBeEnabled();
}

/** On /login/second-factor: submits a code from the authenticator. */
export async function submitTotpCode(page: Page, code: string): Promise<void> {
  await formIsIdle(page);
  await page.getByLabel("Authentication code").fill(code);
  await clickAndAwaitAction(page, "Verify");
}

/** On /login/second-factor: switches to a recovery code and submits it. */
export async function submitRecoveryCode(page: Page, code: string): Promise<void> {
  await formIsIdle(page);
  await page.getByRole("button", { name: "Use a recovery code instead" }).click();
  await page.getByLabel("Recovery code").fill(code);
  await clickAndAwaitAction(page, "Verify");
}

/** What an enrolment at a first sign-in produced: the secret read from the page and the recovery codes shown. */
export interface Enrolment {
  totpSecret: string;
  recoveryCodes: string[];
}

/**
 * On /login/enrol: reads the secret shown as text, confirms it with a code computed from it, reads the recovery
 * codes, and continues (which completes the sign-in).
 */
export async function completeEnrolment(page: Page): Promise<Enrolment> {
  const totpSecret = normaliseSecret((await page.getByTestId("totp-secret").innerText()).trim());
  expect(totpSecret).toMatch(/^[A-Z2-7]{16,}$/);
  await page.getByLabel("Code from the app").fill(await freshTotpCode(totpSecret));
  await page.getByRole("button", { name: "Confirm" }).click();
  await expect(page.getByTestId("recovery-code")).toHaveCount(10);
  const recoveryCodes = (await page.getByTestId("recovery-code").allInnerTexts()).map((code) => code.trim());
  await page.getByRole("button", { name: "I have saved my recovery codes — continue" }).click();
  return { totpSecret, recoveryCodes };
}

/**
 * Signs in through the real forms: the password, then either a TOTP code computed from `totpSecret` or, for a
 * person without an authenticator yet, the enrolment page. The one place that knows how many steps sign-in
 * takes, so that specs do not each carry their own copy. Returns the person's authenticator secret (the one
 * given, or the one just enrolled) and, after an enrolment, the recovery codes.
 *
 * `landing` is what to wait for afterwards: by default the dashboard's heading (customers) or the back office overview's (staff);
 * pass null to wait for nothing (for example when the target is another page).
 */
export async function signInAs(
  page: Page,
  person: SignInPerson,
  options: { path?: string; landing?: RegExp | null } = {},
): Promise<{ totpSecret: string; recoveryCodes: string[] }> {
  await submitPassword(page, person.email, person.password, options.path);
  await page.waitForURL(/\/login\/(second-factor|enrol)/);
  let result: { totpSecret: string; recoveryCodes: string[] };
  if (new URL(page.url()).pathname === "/login/enrol") {
    result = await completeEnrolment(page);
  } else {
    if (!person.totpSecret) throw new Error(`sign-in of ${person.email} asks for a code, but no secret is known`);
    await submitTotpCode(page, await freshTotpCode(person.totpSecret));
    result = { totpSecret: normaliseSecret(person.totpSecret), recoveryCodes: [] };
  }
  const landing = options.landing === undefined ? /Your accounts|Overview/ : options.landing;
  if (landing) await expect(page.getByRole("heading", { name: landing })).toBeVisible();
  else await page.waitForURL((url) => !url.pathname.startsWith("/login"));
  return result;
}
