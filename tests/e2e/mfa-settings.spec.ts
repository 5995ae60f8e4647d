import { expect, type Locator, type Page, test } from "@playwright/test";
import { generate } from "otplib";
import { newCustomerPassword, registerVerifiedCustomer } from "./new-customer";
import { signInAs } from "./sign-in-helpers";

/**
 * The Security page's two-step sign-in section in Chromium against the built app: new recovery codes behind
 * a payload-bound step-up (the prompt, a wrong code refused, the right code completing the action), and
 * replacing the authenticator (password plus a current code, the new QR code and key, a first code from the
 * new secret), after which the old secret's codes are refused.
 *
 * It registers a customer of its own, who enrols an authenticator at the first sign-in: replacing a seeded
 * user's authenticator would break every later spec that signs in with the seeded secret, and a user of its own
 * keeps this spec's codes and lock counter away from the others. It signs in once.
 *
 * Codes are single use per time step (lib/auth/totp.ts), so every code this spec types comes from a step later
 * than the last one the server accepted for this user, waiting for the next 30-second step when needed.
 */

const periodMilliseconds = 30_000;

function currentStep(): number {
  return Math.floor(Date.now() / periodMilliseconds);
}

async function codeAt(secret: string, epochSeconds: number): Promise<string> {
  return generate({ secret, epoch: epochSeconds });
}

/** Six digits that are not the code of any step from two before to two after now. */
async function wrongCodeFor(secret: string): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const valid = new Set(await Promise.all([-2, -1, 0, 1, 2].map((offset) => codeAt(secret, now + offset * 30))));
  const wrong = ["000000", "111111", "222222", "333333"].find((candidate) => !valid.has(candidate));
  if (!wrong) throw new Error("could not find a wrong code");
  return wrong;
}

/** Tracks the user's last accepted step and hands out codes of later steps only. */
class FreshCodes {
  constructor(private lastUsedStep: number) {}

  /** A code of `secret` for a step the server has not accepted yet; `spend` says whether it will be accepted. */
  async next(page: Page, secret: string, spend = true): Promise<string> {
    while (currentStep() <= this.lastUsedStep) {
      const untilNextStep = periodMilliseconds - (Date.now() % periodMilliseconds);
      await page.waitForTimeout(untilNextStep + 250);
    }
    const step = currentStep();
    const code = await codeAt(secret, step * 30 + 1);
    if (spend) this.lastUsedStep = step;
    return code;
  }

  /** Records a step accepted outside `next` (the new authenticator's confirming code). */
  accepted(step: number): void {
    this.lastUsedStep = Math.max(this.lastUsedStep, step);
  }
}

async function confirmWith(prompt: Locator, code: string): Promise<void> {
  await prompt.getByLabel("Authentication code").fill(code);
  await prompt.getByRole("button", { name: "Confirm", exact: true }).click();
}

test("MFA settings: new recovery codes need a step-up code, and a replaced authenticator's old codes stop working", async ({
  page,
}) => {
  // Up to three waits for a fresh 30-second step.
  test.setTimeout(180_000);
  const email = await registerVerifiedCustomer(page, "mfa-settings");
  const enrolment = await signInAs(page, { email, password: newCustomerPassword });
  const customer = { password: newCustomerPassword, totpSecret: enrolment.totpSecret };
  // The enrolment may have used the current step's code: never reuse it.
  const codes = new FreshCodes(currentStep());

  await page.goto("/security");
  const section = page.getByTestId("mfa-section");
  await expect(section.getByTestId("mfa-status")).toContainText("since");
  await expect(section.getByTestId("mfa-status")).toContainText("cannot be turned off");
  // The enrolment at the first sign-in made ten recovery codes; the section counts them and does not warn.
  expect(enrolment.recoveryCodes).toHaveLength(10);
  await expect(section.getByTestId("recovery-codes-left")).toHaveText("10 recovery codes left.");
  await expect(section.getByTestId("recovery-codes-low")).toHaveCount(0);

  // New recovery codes: the step-up prompt appears even right after sign-in (payload-bound confirmation).
  await section.getByRole("button", { name: "Regenerate recovery codes" }).click();
  const prompt = section.getByRole("form", { name: "Confirm it is you" });
  await expect(prompt).toBeVisible();
  await expect(prompt.getByLabel("Authentication code")).toBeFocused();

  await confirmWith(prompt, await wrongCodeFor(customer.totpSecret));
  await expect(prompt.getByRole("alert")).toContainText("That code is not correct");
  await expect(section.getByTestId("recovery-code")).toHaveCount(0);

  await confirmWith(prompt, await codes.next(page, customer.totpSecret));
  await expect(section.getByTestId("recovery-code")).toHaveCount(10);
  await expect(prompt).toBeHidden();
  const firstSet = await section.getByTestId("recovery-code").allTextContents();
  for (const code of firstSet) expect(code).toMatch(/^[A-HJ-NP-Z2-9]{5}-[A-HJ-NP-Z2-9]{5}-[A-HJ-NP-Z2-9]{5}$/);
  // A new set replaces the enrolment's: none of those is in it.
  expect(firstSet.filter((code) => enrolment.recoveryCodes.includes(code))).toEqual([]);
  await expect(section.getByTestId("recovery-codes-left")).toHaveText("10 recovery codes left.");

  // Replacing the authenticator: password and a current code, then the new QR code and key.
  await section.getByLabel("Your password").fill(customer.password);
  await section.getByLabel("Current code or a recovery code").fill(await codes.next(page, customer.totpSecret));
  await section.getByRole("button", { name: "Replace authenticator" }).click();
  const qrCode = section.getByRole("img", { name: "QR code for your new authenticator app" });
  await expect(qrCode).toBeVisible();
  expect(await qrCode.getAttribute("src")).toMatch(/^data:image\/svg\+xml;base64,/);
  const newSecret = ((await section.getByTestId("totp-secret").textContent()) ?? "").replace(/\s+/g, "");
  expect(newSecret).toMatch(/^[A-Z2-7]{32}$/);
  expect(newSecret).not.toBe(customer.totpSecret);

  const confirmingStep = currentStep();
  await section.getByLabel("Code from the new authenticator").fill(await codeAt(newSecret, confirmingStep * 30 + 1));
  await section.getByRole("button", { name: "Confirm new authenticator" }).click();
  await expect(section.getByRole("status").filter({ hasText: "Codes from the old one no longer work" })).toBeVisible();
  // The confirming code's step is recorded for the user as the last one used.
  codes.accepted(confirmingStep);

  // The next new set asks for a code again (a confirmation is single use); the old secret's code is refused.
  await section.getByRole("button", { name: "Regenerate recovery codes" }).click();
  await expect(prompt).toBeVisible();
  await expect(prompt.getByRole("alert")).toHaveCount(0);
  await confirmWith(prompt, await codes.next(page, customer.totpSecret, false));
  await expect(prompt.getByRole("alert")).toContainText("That code is not correct");

  // The new authenticator's code completes it, with a different set of 10.
  await confirmWith(prompt, await codes.next(page, newSecret));
  await expect(prompt).toBeHidden();
  await expect(section.getByTestId("recovery-code")).toHaveCount(10);
  const secondSet = await section.getByTestId("recovery-code").allTextContents();
  expect(secondSet.filter((code) => firstSet.includes(code))).toEqual([]);
});
