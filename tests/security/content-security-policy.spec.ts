import { expect, type Page, test } from "@playwright/test";
import { contextFromAddress } from "./support/browser-from-address";
import { clientAddresses } from "./support/client-addresses";
import { expectStrictNoncePolicy, nonceOf } from "./support/policy";
import { headerValue, rawRequest } from "./support/raw-http";
import { recordDialogs } from "./support/dialogs";

declare global {
  interface Window {
    __pwned?: unknown;
    __violations?: { directive: string; blocked: string; sample: string }[];
  }
}

/** Records every CSP violation the page reports, from before its first script runs. */
async function recordViolations(page: Page): Promise<void> {
  await page.addInitScript(() => {
    window.__violations = [];
    document.addEventListener("securitypolicyviolation", (event) => {
      window.__violations?.push({ directive: event.effectiveDirective, blocked: event.blockedURI, sample: event.sample });
    });
  });
}

/** True once React has hydrated the sign-in form: React keeps its fiber on the DOM nodes it owns. */
async function signInFormIsHydrated(page: Page): Promise<void> {
  await expect
    .poll(() => page.locator("form").first().evaluate((form) => Object.keys(form).some((key) => key.startsWith("__reactFiber$"))), {
      message: "the page's own (nonce-carrying) scripts run and hydrate the sign-in form",
      timeout: 10_000,
    })
    .toBe(true);
}

test("every response carries a fresh 128-bit CSP nonce, and every script Next renders carries exactly that nonce", async () => {
  const nonces: string[] = [];
  for (let index = 0; index < 5; index += 1) {
    const response = await rawRequest({ path: "/login", from: clientAddresses.cspNonces, headers: { accept: "text/html" } });
    expect(response.status).toBe(200);
    const policy = headerValue(response.headers, "content-security-policy");
    expectStrictNoncePolicy(policy, "GET /login");
    const nonce = nonceOf(policy);
    expect(Buffer.from(nonce, "base64").byteLength, "nonce entropy in bytes").toBeGreaterThanOrEqual(16);
    nonces.push(nonce);

    const scriptTags = [...response.body.matchAll(/<script\b[^>]*>/g)].map(([tag]) => tag);
    expect(scriptTags.length, "the page has scripts").toBeGreaterThan(0);
    for (const tag of scriptTags) expect(tag, "each script carries this response's nonce").toContain(`nonce="${nonce}"`);
  }
  expect(new Set(nonces).size, "no nonce is ever reused").toBe(nonces.length);
});

const reflectedEmails = [
  `"><script>window.__pwned="script-tag"</script>`,
  `"><img src=x onerror="window.__pwned='img-onerror';alert(1)">`,
  `" autofocus onfocus="window.__pwned='autofocus'" x="`,
  `</script><script>alert("closing-tag")</script>`,
  `"><svg/onload=alert(document.domain)>`,
  `'><iframe srcdoc="<script>parent.__pwned=1</script>">`,
];

test("markup reflected through ?email= stays text: nothing injected runs, while the page's own scripts hydrate", async ({ browser }) => {
  const client = await contextFromAddress(browser, clientAddresses.cspReflectedBrowser);
  try {
    const page = await client.context.newPage();
    const dialogs = recordDialogs(page);
    await recordViolations(page);
    for (const payload of reflectedEmails) {
      const response = await page.goto(`/login?${new URLSearchParams({ email: payload })}`);
      expect(response?.status()).toBe(200);
      expectStrictNoncePolicy(response?.headers()["content-security-policy"], "GET /login?email=…");
      await signInFormIsHydrated(page);
      // The parameter really is reflected, as the value of the email field and nothing else.
      await expect(page.locator("#email")).toHaveValue(payload);
      await page.locator("#email").focus();
      expect(await page.evaluate(() => window.__pwned), `nothing ran for ${payload}`).toBeUndefined();
      expect(await page.locator("main script, main img, main svg, main iframe").count(), `no element injected by ${payload}`).toBe(0);
      expect(await page.evaluate(() => window.__violations ?? []), "the page's own scripts break no rule").toEqual([]);
    }
    expect(dialogs, "no injected dialog opened").toEqual([]);
  } finally {
    await client.close();
  }
});

const reflectedCallbackUrls = [
  `/"><script>window.__pwned="callback"</script>`,
  `javascript:window.__pwned='callback-js'`,
  `"><img src=x onerror=alert(1)>`,
  `/login?email="><script>alert(1)</script>`,
];

test("a hostile ?callbackUrl= is neither executed nor kept: the sign-in form's redirect target stays a plain path", async ({ browser }) => {
  const client = await contextFromAddress(browser, clientAddresses.cspReflectedBrowser);
  try {
    const page = await client.context.newPage();
    const dialogs = recordDialogs(page);
    await recordViolations(page);
    for (const callbackUrl of reflectedCallbackUrls) {
      const response = await page.goto(`/login?${new URLSearchParams({ callbackUrl })}`);
      expect(response?.status()).toBe(200);
      await signInFormIsHydrated(page);
      const redirectTo = await page.locator('input[name="redirectTo"]').inputValue();
      expect(redirectTo.startsWith("/") && !redirectTo.startsWith("//"), `redirect target for ${callbackUrl}`).toBe(true);
      expect(redirectTo, "no markup survives in the redirect target").not.toMatch(/[<>"']/);
      expect(await page.evaluate(() => window.__pwned)).toBeUndefined();
      expect(await page.evaluate(() => window.__violations ?? [])).toEqual([]);
    }
    expect(dialogs).toEqual([]);
  } finally {
    await client.close();
  }
});

test("Chromium enforces the served policy: markup spliced into the real sign-in page does not run, the page's own scripts do", async ({
  browser,
}) => {
  // A nonce seen on an earlier response, as an attacker could learn it, must not unlock a later page.
  const earlier = await rawRequest({ path: "/login", from: clientAddresses.cspSplicedBrowser, headers: { accept: "text/html" } });
  const staleNonce = nonceOf(headerValue(earlier.headers, "content-security-policy"));

  const client = await contextFromAddress(browser, clientAddresses.cspSplicedBrowser);
  try {
    const page = await client.context.newPage();
    const dialogs = recordDialogs(page);
    await recordViolations(page);
    // Simulates an escaping bug: the server's real answer, with its real headers, plus injected markup.
    const injected =
      `<script>window.__pwned="inline";alert("inline")</script>` +
      `<script nonce="${staleNonce}">window.__pwned="stale-nonce"</script>` +
      `<script src="data:text/javascript,window.__pwned='data-url'"></script>` +
      `<img id="injected-img" src="/no-such-image.png" onerror="window.__pwned='onerror'">` +
      `<a id="injected-link" href="javascript:void(window.__pwned='javascript-url')">link</a>` +
      `<base href="https://evil.example/">`;
    let served = "";
    await page.route("**/login", async (route) => {
      const response = await route.fetch();
      served = response.headers()["content-security-policy"] ?? "";
      // At the end of the body, where React's hydration tolerates foreign nodes (as it does for extensions).
      const body = (await response.text()).replace("</body>", `${injected}</body>`);
      expect(body, "the markup was spliced in").toContain("injected-link");
      await route.fulfill({ response, body });
    });
    await page.goto("/login");
    expectStrictNoncePolicy(served, "the spliced page's policy (as the server sent it)");
    expect(nonceOf(served)).not.toBe(staleNonce);
    await signInFormIsHydrated(page);
    // A scripted click follows the javascript: URL as a real one would (Playwright's click() would wait for a
    // navigation that the policy never lets start).
    expect(await page.locator("#injected-link").count(), "the injected link is in the page").toBe(1);
    await page.evaluate(() => document.getElementById("injected-link")?.click());
    await page.waitForTimeout(300);

    expect(await page.evaluate(() => window.__pwned), "no injected script, handler or URL ran").toBeUndefined();
    expect(dialogs).toEqual([]);
    expect(await page.evaluate(() => document.baseURI), "base-uri 'none' ignores an injected <base>").toMatch(/^https:\/\/localhost:\d+\//);
    const violatedDirectives = new Set((await page.evaluate(() => window.__violations ?? [])).map((violation) => violation.directive));
    for (const directive of ["script-src-elem", "script-src-attr", "base-uri"]) {
      expect([...violatedDirectives], `Chromium reported the ${directive} violation`).toContain(directive);
    }
  } finally {
    await client.close();
  }
});
