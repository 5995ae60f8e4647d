import { type Browser, expect, type Page, test } from "@playwright/test";
import { contextFromAddress } from "./support/browser-from-address";
import { clientAddresses, seriesAddress } from "./support/client-addresses";
import { alice, securityOrigin } from "./support/environment";
import { headerValue, rawRequest } from "./support/raw-http";
import { freshTotpCode, submitTotpCode } from "../e2e/sign-in-helpers";
import { signInThroughForm } from "./support/sign-in";
import { recordDialogs } from "./support/dialogs";

/** Redirect targets that leave the site in one browser or another, each as the literal parameter value. */
const hostileTargets = [
  "//evil.example",
  "/\\evil.example",
  "https:evil.example",
  "https://evil.example",
  "javascript:alert(1)",
  "%2F%2Fevil.example",
];

async function submitSignIn(page: Page): Promise<void> {
  const person = alice();
  await expect(page.getByRole("heading", { name: "Sign in" })).toBeVisible();
  // Enabled once React has hydrated the form: fields typed into before that could be undone by hydration.
  await expect(page.getByRole("button", { name: "Sign in" })).toBeEnabled();
  await page.getByLabel("Email").fill(person.email);
  await page.getByLabel("Password").fill(person.password);
  await page.getByRole("button", { name: "Sign in" }).click();
}

/**
 * After the password step the target travels to the second step as `redirectTo`, in the URL and in a hidden
 * field. Both must already be reduced to a path on this site, whatever the hostile target was.
 */
async function expectSafeSecondStep(page: Page, label: string): Promise<void> {
  await expect(page, label).toHaveURL(/\/login\/second-factor\?/);
  expect(new URL(page.url()).origin, `${label}: the browser stays on the bank's origin`).toBe(securityOrigin);
  const carried = [
    new URL(page.url()).searchParams.get("redirectTo") ?? "",
    await page.locator('input[name="redirectTo"]').getAttribute("value"),
  ];
  for (const value of carried) {
    expect(value, `${label}: redirectTo ${value}`).toMatch(/^\/(?![/\\])/);
    expect(new URL(value ?? "", securityOrigin).origin, `${label}: redirectTo ${value}`).toBe(securityOrigin);
  }
}

/**
 * Completes the second step with a code and expects the bank's dashboard. A TOTP code works once per time
 * step, so only the first target's flow of a test does this; the others stop at the (checked) second step.
 */
async function completeSecondStep(page: Page, label: string): Promise<void> {
  await submitTotpCode(page, await freshTotpCode(alice().totpSecret));
  await expectOnTheBanksDashboard(page, label);
}

async function expectOnTheBanksDashboard(page: Page, label: string): Promise<void> {
  await expect(page.getByRole("heading", { name: "Your accounts" }), label).toBeVisible();
  expect(new URL(page.url()).origin, `${label}: the browser stays on the bank's origin`).toBe(securityOrigin);
}

/**
 * Runs one sign-in flow per hostile target, each in its own browser context with its own source address (so
 * the sign-in budget of no address is spent twice), one after the other, and fails with the first target that
 * escaped. (Run all at once, six browsers signing the same customer in on a two-core machine now and then left
 * one sign-in waiting past the test's time limit.)
 */
async function forEachTarget(
  browser: Browser,
  series: 20 | 21 | 22,
  flow: (page: Page, target: string, dialogs: string[]) => Promise<void>,
): Promise<void> {
  test.setTimeout(120_000);
  for (const [index, target] of hostileTargets.entries()) {
    const client = await contextFromAddress(browser, seriesAddress(series, index + 1));
    try {
      const page = await client.context.newPage();
      const dialogs = recordDialogs(page);
      await flow(page, target, dialogs);
      expect(dialogs, `${target}: no script ran`).toEqual([]);
    } finally {
      await client.close();
    }
  }
}

test("signing in from /login?callbackUrl=<hostile target> carries only a same-site path to the second step and ends on the bank's own dashboard", async ({ browser }) => {
  await forEachTarget(browser, 20, async (page, target) => {
    await page.goto(`/login?${new URLSearchParams({ callbackUrl: target })}`);
    await submitSignIn(page);
    await expectSafeSecondStep(page, `/login?callbackUrl=${target}`);
    if (target === hostileTargets[0]) await completeSecondStep(page, `/login?callbackUrl=${target}`);
  });
});

test("signing in after Auth.js's /api/auth/signin?callbackUrl=<hostile target> carries only a same-site path to the second step and ends on the bank's own dashboard", async ({ browser }) => {
  await forEachTarget(browser, 21, async (page, target) => {
    await page.goto(`/api/auth/signin?${new URLSearchParams({ callbackUrl: target })}`);
    expect(new URL(page.url()).origin).toBe(securityOrigin);
    await expect(page).toHaveURL(/\/login(\?|$)/);
    await submitSignIn(page);
    await expectSafeSecondStep(page, `/api/auth/signin?callbackUrl=${target}`);
    if (target === hostileTargets[0]) await completeSecondStep(page, `/api/auth/signin?callbackUrl=${target}`);
  });
});

test("a same-origin form post to Auth.js's credentials callback with callbackUrl=<hostile target> stays on the bank's origin and signs nobody in", async ({
  browser,
}) => {
  await forEachTarget(browser, 22, async (page, target) => {
    await page.goto("/login");
    const person = alice();
    // What a form of the bank's own origin could post: Auth.js's endpoint, its CSRF token, the hostile target.
    const { csrfToken } = (await (await page.request.get("/api/auth/csrf")).json()) as { csrfToken: string };
    const response = await page.request.post("/api/auth/callback/credentials", {
      form: { csrfToken, email: person.email, password: person.password, callbackUrl: target },
      headers: { origin: securityOrigin },
      maxRedirects: 0,
    });
    expect(response.status(), `callbackUrl=${target}`).toBeLessThan(500);
    const location = response.headers().location;
    if (location) expect(new URL(location, securityOrigin).origin, `Location ${location} for ${target}`).toBe(securityOrigin);
    // There is no password-only provider any more: the post signs nobody in.
    expect((await page.request.get("/api/v1/accounts")).status(), `no session from callbackUrl=${target}`).toBe(401);
  });
});

test("an already signed-in visit to /login?callbackUrl=<hostile target> redirects only within the bank", async () => {
  const from = clientAddresses.redirectSignedIn;
  const session = await signInThroughForm(alice(), from);
  for (const target of [...hostileTargets, "/%2F%2Fevil.example", "/.//evil.example", "/\t/evil.example"]) {
    const response = await rawRequest({
      path: `/login?${new URLSearchParams({ callbackUrl: target })}`,
      from,
      headers: { accept: "text/html", cookie: session.header() },
    });
    expect(response.status, `signed-in /login?callbackUrl=${target}`).toBeGreaterThanOrEqual(300);
    expect(response.status).toBeLessThan(400);
    const location = headerValue(response.headers, "location") ?? "";
    expect(location, `Location for ${target}`).not.toMatch(/^\s*(\/\/|\/\\|[a-z][a-z0-9+.-]*:(?!\/\/localhost:))/i);
    expect(new URL(location, securityOrigin).origin, `Location ${location} for ${target}`).toBe(securityOrigin);
  }
  // A legitimate target is kept, so the check above is about hostility and not a blanket "/".
  const legitimate = await rawRequest({
    path: `/login?${new URLSearchParams({ callbackUrl: "/?tab=savings" })}`,
    from,
    headers: { accept: "text/html", cookie: session.header() },
  });
  expect(new URL(headerValue(legitimate.headers, "location") ?? "", securityOrigin).search).toBe("?tab=savings");
});
