import { expect, type Page, test } from "@playwright/test";

// The start of zxcvbn's ranked password list, which only its dictionary chunk contains.
const zxcvbnDictionarySignature = "123456,password,12345678,qwerty";

/** The scripts the page has fetched so far, from the browser's own resource timing. */
async function loadedScriptUrls(page: Page): Promise<string[]> {
  return page.evaluate(() =>
    performance
      .getEntriesByType("resource")
      .filter((entry) => (entry as PerformanceResourceTiming).initiatorType === "script" || entry.name.endsWith(".js"))
      .map((entry) => entry.name),
  );
}

async function anyScriptContains(page: Page, urls: readonly string[], text: string): Promise<boolean> {
  for (const url of urls) {
    const body = await (await page.request.get(url)).text();
    if (body.includes(text)) return true;
  }
  return false;
}

/** Collects CSP violations: the forms must work under the nonce-based strict-dynamic policy. */
async function watchCspViolations(page: Page): Promise<string[]> {
  const violations: string[] = [];
  page.on("console", (message) => {
    if (/Content Security Policy|Refused to/i.test(message.text())) violations.push(message.text());
  });
  await page.addInitScript(() => {
    document.addEventListener("securitypolicyviolation", (event) => {
      console.error(`Refused to load: CSP violation ${event.violatedDirective} ${event.blockedURI} ${event.sourceFile}:${event.lineNumber}:${event.columnNumber} ${event.sample}`);
    });
  });
  return violations;
}

test("a weak password shows its broken rules and a low strength, nothing is posted, and zxcvbn loads only on typing", async ({ page }) => {
  const violations = await watchCspViolations(page);
  const posts: string[] = [];
  page.on("request", (request) => {
    if (request.method() === "POST") posts.push(request.url());
  });

  await page.goto("/register");
  await expect(page.getByRole("heading", { name: "Open an account" })).toBeVisible();
  // Wait until the page is hydrated and idle, so that every script it loads by itself has been fetched.
  await page.waitForLoadState("networkidle");
  const scriptsBeforeTyping = await loadedScriptUrls(page);
  expect(scriptsBeforeTyping.length).toBeGreaterThan(0);
  expect(await anyScriptContains(page, scriptsBeforeTyping, zxcvbnDictionarySignature)).toBe(false);
  await expect(page.getByTestId("password-strength")).toContainText("Strength: shown as you type.");

  await page.getByLabel("Full legal name").fill("Alice Whitfield");
  await page.getByLabel("Email").fill("alice.whitfield@example.com");
  await page.getByLabel("Date of birth").fill("1990-04-12");
  await page.getByLabel("Password", { exact: true }).fill("password");

  const rules = page.getByRole("list", { name: "Password rules" });
  for (const rule of ["length", "special", "common", "strength"]) {
    await expect(rules.locator(`[data-rule="${rule}"]`)).toHaveAttribute("data-status", "not-met");
    await expect(rules.locator(`[data-rule="${rule}"]`)).toContainText("✗");
    await expect(rules.locator(`[data-rule="${rule}"]`)).toContainText("Not met:");
  }
  await expect(page.getByTestId("password-strength")).toContainText("Strength: Very weak");
  await expect(page.getByTestId("password-strength")).toHaveAttribute("aria-live", "polite");
  await expect(page.getByRole("meter", { name: "Password strength" })).toHaveAttribute("value", "0");

  // Typing fetched zxcvbn's chunk, which the first load did not include.
  const scriptsAfterTyping = await loadedScriptUrls(page);
  const newScripts = scriptsAfterTyping.filter((url) => !scriptsBeforeTyping.includes(url));
  expect(newScripts.length).toBeGreaterThan(0);
  expect(await anyScriptContains(page, newScripts, zxcvbnDictionarySignature)).toBe(true);

  // A stronger password that is just the customer's own email, and a confirmation that does not match.
  await page.getByLabel("Password", { exact: true }).fill("alice.whitfield@example.com!");
  await expect(rules.locator('[data-rule="length"]')).toHaveAttribute("data-status", "met");
  await expect(rules.locator('[data-rule="special"]')).toHaveAttribute("data-status", "met");
  await expect(rules.locator('[data-rule="strength"]')).toHaveAttribute("data-status", "not-met");
  await page.getByLabel("Confirm password").fill("something else");
  await page.getByLabel("I have read and accept the terms and conditions").check();
  await page.getByRole("button", { name: "Open an account" }).click();

  const password = page.getByLabel("Password", { exact: true });
  await expect(page.locator("#password-errors")).toContainText("This password is too easy to guess.");
  await expect(password).toHaveAttribute("aria-invalid", "true");
  await expect(password).toHaveAttribute("aria-describedby", /password-errors/);
  await expect(page.locator("#passwordConfirmation-errors")).toHaveText("The two passwords do not match.");
  await expect(page.getByLabel("Confirm password")).toHaveAttribute("aria-describedby", "passwordConfirmation-errors");

  // The browser refused the form itself: nothing went to the server.
  await page.waitForTimeout(500);
  expect(posts).toEqual([]);
  expect(violations).toEqual([]);
});

test("a valid form is posted to the registration action once", async ({ page }) => {
  const violations = await watchCspViolations(page);
  await page.goto("/register");
  // Enabled once React has hydrated the form: fields typed into before that could be undone by hydration.
  await expect(page.getByRole("button", { name: /open (my|an) account|register/i })).toBeEnabled();
  await page.getByLabel("Full legal name").fill("Alice Whitfield");
  await page.getByLabel("Email").fill("alice.whitfield@example.com");
  await page.getByLabel("Date of birth").fill("1990-04-12");
  await page.getByLabel("Password", { exact: true }).fill("correct horse battery staple!");
  await page.getByLabel("Confirm password").fill("correct horse battery staple!");
  await expect(page.getByTestId("password-strength")).toContainText("Strength: Strong");
  for (const rule of ["length", "special", "common", "strength"]) {
    await expect(page.locator(`[data-rule="${rule}"]`)).toHaveAttribute("data-status", "met");
  }
  await page.getByLabel("I have read and accept the terms and conditions").check();

  const posted = page.waitForRequest((request) => request.method() === "POST" && new URL(request.url()).pathname === "/register");
  await page.getByRole("button", { name: "Open an account" }).click();
  const request = await posted;
  // The server action receives the form's fields (multipart), the password among them, and nothing is in the URL.
  expect(new URL(request.url()).search).toBe("");
  expect(request.postData() ?? "").toContain("correct horse battery staple!");
  // Whatever the server did, the page answers in one place: the fixed sentence, or an alert if it failed.
  await expect(page.locator('form p.alert[role="alert"], [role="status"] p.notice')).toBeVisible();
  expect(violations).toEqual([]);
});
