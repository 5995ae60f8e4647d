import { expect, type Locator, type Page, test } from "@playwright/test";
import { demoSignIn } from "./demo-credentials";
import { freshTotpCode, signInAs, wrongTotpCode } from "./sign-in-helpers";

/**
 * "Move money" in Chromium against the built app: a move between the customer's own accounts shows on the
 * dashboard (balances and recent activity), amounts the bank refuses get field messages and change nothing,
 * and a move above the confirmation threshold asks for an authenticator code bound to that move (a wrong code
 * is refused, the right one posts it once).
 *
 * It signs in once, as Bob, and reads balances before and after rather than assuming them, so it does not
 * depend on what other specs did to the demo accounts. Codes come from sign-in-helpers' freshTotpCode, which
 * hands out each 30-second step once per secret (the bank refuses a step's code the second time).
 */

/** The first amount in a cell ("£61,000.50" → 6100050n); a "(£x held)" note after it is ignored. */
function minorUnitsIn(text: string): bigint {
  const match = /£([\d,]+)\.(\d\d)/.exec(text);
  if (!match?.[1] || !match[2]) throw new Error(`no amount in ${JSON.stringify(text)}`);
  return BigInt(match[1].replaceAll(",", "")) * 100n + BigInt(match[2]);
}

function accountRow(page: Page, nickname: string): Locator {
  return page.getByTestId("account-row").filter({ hasText: nickname });
}

async function availableOn(page: Page, nickname: string): Promise<bigint> {
  return minorUnitsIn(await accountRow(page, nickname).getByTestId("available-balance").innerText());
}

async function dashboardAvailable(page: Page): Promise<{ current: bigint; house: bigint }> {
  await page.goto("/");
  await expect(page.getByRole("heading", { name: "Your accounts" })).toBeVisible();
  return { current: await availableOn(page, "Current"), house: await availableOn(page, "House deposit") };
}

/** Chooses the option of a select whose text contains `text`. */
async function choose(select: Locator, text: string): Promise<void> {
  const value = await select.locator("option", { hasText: text }).first().getAttribute("value");
  if (value === null) throw new Error(`no option containing ${text}`);
  await select.selectOption(value);
}

async function fillMove(page: Page, move: { from: string; to: string; amount: string; memo?: string }): Promise<void> {
  await choose(page.getByLabel("From"), move.from);
  await choose(page.getByLabel("To"), move.to);
  await page.getByLabel("Amount").fill(move.amount);
  await page.getByLabel("Reference (optional)").fill(move.memo ?? "");
}

test("Move money: between own accounts, refused amounts, and a bound confirmation above the threshold", async ({ page }) => {
  // Sign-in and the confirmation may each wait for a fresh 30-second step.
  test.setTimeout(150_000);
  const bob = demoSignIn((person) => person.email === "bob@example.com");
  await signInAs(page, bob);

  await test.step("a move between own accounts changes both balances and shows in recent activity", async () => {
    const before = await dashboardAvailable(page);
    await page.goto("/move-money");
    await expect(page.getByTestId("transfer-limits")).toContainText("£1,000.00");
    await fillMove(page, { from: "Current", to: "House deposit", amount: "25.00", memo: "E2E savings" });
    await page.getByRole("button", { name: "Send" }).click();
    const receipt = page.getByTestId("move-money-receipt");
    await expect(receipt).toContainText("Money moved");
    await expect(receipt).toContainText("£25.00 from Current");
    await expect(receipt).toContainText("to House deposit");

    const after = await dashboardAvailable(page);
    expect(after.current).toBe(before.current - 2500n);
    expect(after.house).toBe(before.house + 2500n);
    const newest = page.getByTestId("activity-row").first();
    await expect(newest).toContainText("Current → House deposit");
    await expect(newest).toContainText("E2E savings");
    await expect(newest).toContainText("£25.00");
  });

  await test.step("a double click on Send pays once (the button is disabled while sending, and a repeat carries the same key)", async () => {
    const before = await dashboardAvailable(page);
    await page.goto("/move-money");
    await fillMove(page, { from: "Current", to: "House deposit", amount: "10.00", memo: "E2E double click" });
    await page.getByRole("button", { name: "Send" }).dblclick();
    await expect(page.getByTestId("move-money-receipt")).toContainText("Money moved");
    const after = await dashboardAvailable(page);
    expect(after.current).toBe(before.current - 1000n);
    expect(after.house).toBe(before.house + 1000n);
    await expect(page.getByTestId("activity-row").filter({ hasText: "E2E double click" })).toHaveCount(1);
  });

  await test.step("refused amounts show a message on the amount and move nothing", async () => {
    const before = await dashboardAvailable(page);
    await page.goto("/move-money");
    const cases: [string, RegExp][] = [
      ["0", /greater than zero/],
      ["-5.00", /without a plus or minus sign/],
      ["1.234", /at most 2 digits after the decimal point/],
      ["twelve", /digits only/],
      ["99999999999999999999", /larger than we can accept/],
    ];
    for (const [amount, message] of cases) {
      await fillMove(page, { from: "Current", to: "House deposit", amount });
      await page.getByRole("button", { name: "Send" }).click();
      await expect(page.getByLabel("Amount")).toHaveAttribute("aria-invalid", "true");
      await expect(page.locator(".field-error").filter({ hasText: message })).toBeVisible();
      await expect(page.getByTestId("move-money-receipt")).toHaveCount(0);
    }
    expect(await dashboardAvailable(page)).toEqual(before);
  });

  await test.step("above the threshold a code is asked for; a wrong one is refused and the right one posts it once", async () => {
    const before = await dashboardAvailable(page);
    await page.goto("/move-money");
    await fillMove(page, { from: "House deposit", to: "Current", amount: "1,234.56", memo: "E2E big move" });
    await page.getByRole("button", { name: "Send" }).click();
    const confirmation = page.getByTestId("transfer-confirmation");
    await expect(confirmation).toContainText("£1,234.56");
    await expect(confirmation).toContainText("from House deposit");
    await expect(confirmation).toContainText("to Current");
    const prompt = page.getByTestId("step-up-prompt");

    await prompt.getByLabel("Authentication code").fill(await wrongTotpCode(bob.totpSecret));
    await prompt.getByRole("button", { name: "Confirm", exact: true }).click();
    await expect(prompt.getByRole("alert")).toContainText("not correct");
    expect(await balanceUnchanged(page, before)).toBe(true);

    await prompt.getByLabel("Authentication code").fill(await freshTotpCode(bob.totpSecret));
    await prompt.getByRole("button", { name: "Confirm", exact: true }).click();
    const receipt = page.getByTestId("move-money-receipt");
    await expect(receipt).toContainText("Money moved");
    await expect(receipt).toContainText("£1,234.56 from House deposit");

    const after = await dashboardAvailable(page);
    expect(after.house).toBe(before.house - 123_456n);
    expect(after.current).toBe(before.current + 123_456n);
    await expect(page.getByTestId("activity-row").first()).toContainText("E2E big move");
  });
});

/** Reads the balances in a second tab, so that the page holding the prompt keeps its state. */
async function balanceUnchanged(page: Page, before: { current: bigint; house: bigint }): Promise<boolean> {
  const other = await page.context().newPage();
  try {
    const now = await dashboardAvailable(other);
    return now.current === before.current && now.house === before.house;
  } finally {
    await other.close();
  }
}
