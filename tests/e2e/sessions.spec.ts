import crypto from "node:crypto";
import fs from "node:fs";
import { type APIRequestContext, type Browser, type BrowserContext, expect, type Page, test } from "@playwright/test";
import { decode, encode, type JWT } from "next-auth/jwt";
import {
  e2ePort,
  shortIdleDataDirectory,
  shortIdleOrigin,
  shortIdleTimeoutSeconds,
  shortIdleWarningSeconds,
} from "../../playwright.config";
import { demoSignIn, type DemoSignIn } from "./demo-credentials";
import { signInAs } from "./sign-in-helpers";

/**
 * Revocable server-side sessions, the idle timeout and its warning dialog, in Chromium against the built app.
 * Two servers: the main e2e server (15-minute idle limit) and a second one with a 20-second idle limit and a
 * 10-second warning, on which sessions can be watched ending.
 */

const mainOrigin = `https://localhost:${e2ePort}`;
const sessionCookieName = "__Secure-authjs.session-token";

// The servers were started by run.sh, which reads AUTH_SECRET from the environment or else from .env.local.
// The tests need it to read the session id out of a cookie and to forge tokens that only the server could make.
function authSecret(): string {
  if (process.env.AUTH_SECRET) return process.env.AUTH_SECRET;
  const line = fs
    .readFileSync(".env.local", "utf8")
    .split("\n")
    .find((entry) => entry.startsWith("AUTH_SECRET="));
  if (!line) throw new Error("no AUTH_SECRET in .env.local");
  return line.slice("AUTH_SECRET=".length).trim();
}

async function readToken(value: string): Promise<JWT> {
  const payload = await decode({ token: value, secret: authSecret(), salt: sessionCookieName });
  if (!payload) throw new Error("the session cookie did not decode");
  return payload;
}

async function sessionCookie(context: BrowserContext): Promise<string> {
  const cookie = (await context.cookies()).find((candidate) => candidate.name === sessionCookieName);
  if (!cookie) throw new Error("no session cookie in the browser");
  return cookie.value;
}

async function sessionIdOf(context: BrowserContext): Promise<string> {
  const { sid } = await readToken(await sessionCookie(context));
  if (typeof sid !== "string") throw new Error("the token carries no session id");
  return sid;
}

// The main server's tests sign in Dan and Carol, whom no other spec uses: every sign-in spends one of a
// person's authenticator codes (three usable per 30 seconds), and Alice and Bob are signed in all over the suite.
// The short-idle server has its own data folder, so its Alice and Bob are separate people with their own codes.
const danEmail = "dan@example.com";
const carolEmail = "carol@example.com";
const aliceEmail = "alice@example.com";
const bobEmail = "bob@example.com";

function person(email: string, dataDirectory?: string): DemoSignIn {
  return demoSignIn((candidate) => candidate.email === email, dataDirectory);
}

async function signIn(page: Page, who: DemoSignIn): Promise<void> {
  await signInAs(page, who, { landing: /Your accounts/ });
}

async function signedInContext(browser: Browser, who: DemoSignIn, baseURL = mainOrigin): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ baseURL, ignoreHTTPSErrors: true });
  const page = await context.newPage();
  await signIn(page, who);
  return { context, page };
}

async function accountNumbers(request: APIRequestContext): Promise<string[]> {
  const response = await request.get("/api/v1/accounts");
  expect(response.status()).toBe(200);
  return ((await response.json()) as { accounts: { accountNumber: string }[] }).accounts.map((account) => account.accountNumber);
}

async function expectUnauthenticatedApi(request: APIRequestContext, label: string): Promise<void> {
  const response = await request.get("/api/v1/accounts");
  expect(response.status(), `${label}: the API answers 401`).toBe(401);
  expect(response.headers()["content-type"], label).toContain("application/problem+json");
  expect(await response.json(), label).toMatchObject({ status: 401, code: "unauthenticated" });
}

interface SessionStatus {
  idleExpiresAt: string;
  absoluteExpiresAt: string;
  warningSeconds: number;
  now: string;
}

async function sessionStatus(request: APIRequestContext): Promise<SessionStatus> {
  const response = await request.get("/api/session");
  expect(response.status()).toBe(200);
  expect(response.headers()["cache-control"]).toContain("no-store");
  return (await response.json()) as SessionStatus;
}

/** The Set-Cookie headers of an answer that set the session cookie. */
function sessionSetCookies(headers: { name: string; value: string }[]): string[] {
  return headers
    .filter((header) => header.name.toLowerCase() === "set-cookie" && header.value.startsWith(`${sessionCookieName}=`))
    .map((header) => header.value);
}

function base64url(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString("base64url");
}

test.describe("server-side sessions", () => {
  test("revoking a session on the security page signs that browser out on its next navigation", async ({ browser }) => {
    const dan = person(danEmail);
    const phone = await signedInContext(browser, dan);
    const laptop = await signedInContext(browser, dan);
    try {
      const phoneSessionId = await sessionIdOf(phone.context);
      const laptopSessionId = await sessionIdOf(laptop.context);
      expect(phoneSessionId).not.toBe(laptopSessionId);

      await laptop.page.goto("/security");
      await expect(laptop.page.getByRole("heading", { name: "Where you are signed in" })).toBeVisible();
      const current = laptop.page.locator('[data-testid="session-row"][data-current="true"]');
      await expect(current).toHaveCount(1);
      await expect(current).toContainText("This session");
      await expect(current.getByRole("button", { name: /Revoke/ })).toHaveCount(0);
      const phoneRow = laptop.page.locator(`[data-testid="session-row"]:has(input[name="sessionId"][value="${phoneSessionId}"])`);
      await expect(phoneRow).toContainText("Chrome on Linux");
      await phoneRow.getByRole("button", { name: /Revoke/ }).click();
      await expect(phoneRow).toHaveCount(0);

      await phone.page.goto("/");
      await expect(phone.page).toHaveURL(/\/login$/);
      await expectUnauthenticatedApi(phone.context.request, "the revoked browser");
      // The browser that revoked it is still signed in.
      expect((await accountNumbers(laptop.context.request)).length).toBe(2);
      await laptop.page.goto("/");
      await expect(laptop.page.getByRole("heading", { name: "Your accounts" })).toBeVisible();
    } finally {
      await phone.context.close();
      await laptop.context.close();
    }
  });

  test("'Sign out everywhere else' ends every other session and keeps this one", async ({ browser }) => {
    const carol = person(carolEmail);
    const kept = await signedInContext(browser, carol);
    const others = [await signedInContext(browser, carol), await signedInContext(browser, carol)];
    try {
      await kept.page.goto("/security");
      const rows = kept.page.getByTestId("session-row");
      expect(await rows.count()).toBeGreaterThanOrEqual(3);
      await kept.page.getByRole("button", { name: "Sign out everywhere else" }).click();
      await expect(kept.page.getByRole("region", { name: "Where you are signed in" }).getByRole("status")).toContainText(/other sessions? (was|were) signed out/);
      await expect(rows).toHaveCount(1);
      await expect(rows.first()).toHaveAttribute("data-current", "true");

      for (const other of others) {
        await other.page.goto("/security");
        await expect(other.page).toHaveURL(/\/login$/);
      }
      await kept.page.goto("/");
      await expect(kept.page.getByRole("heading", { name: "Your accounts" })).toBeVisible();
    } finally {
      for (const { context } of [kept, ...others]) await context.close();
    }
  });

  test("every sign-in gets a new session id, and a copy of a signed-out cookie is worthless", async ({ browser }) => {
    const dan = person(danEmail);
    const { context, page } = await signedInContext(browser, dan);
    try {
      const firstSessionId = await sessionIdOf(context);
      const copiedCookie = await sessionCookie(context);
      await page.getByRole("button", { name: "Sign out" }).click();
      await expect(page).toHaveURL(/\/login$/);
      await signIn(page, dan);
      expect(await sessionIdOf(context)).not.toBe(firstSessionId);

      const thief = await browser.newContext({ baseURL: mainOrigin, ignoreHTTPSErrors: true });
      try {
        await thief.addCookies([{ name: sessionCookieName, value: copiedCookie, url: mainOrigin, secure: true, httpOnly: true, sameSite: "Lax" }]);
        // The copy still decrypts (it has not reached its own expiry), but its session record was revoked.
        expect((await readToken(copiedCookie)).sid).toBe(firstSessionId);
        await expectUnauthenticatedApi(thief.request, "a copy of the signed-out cookie");
        const thiefPage = await thief.newPage();
        await thiefPage.goto("/");
        await expect(thiefPage).toHaveURL(/\/login$/);
      } finally {
        await thief.close();
      }
    } finally {
      await context.close();
    }
  });

  test("bad tokens are refused: a redirect to sign-in for pages, 401 for the API, never a 500", async ({ browser }) => {
    const dan = person(danEmail);
    const carol = person(carolEmail);
    const danSignedIn = await signedInContext(browser, dan);
    const carolSignedIn = await signedInContext(browser, carol);
    try {
      const real = await sessionCookie(danSignedIn.context);
      const { sub: danId, sid: danSessionId } = await readToken(real);
      const { sub: carolId } = await readToken(await sessionCookie(carolSignedIn.context));
      const [header = "", key = "", iv = "", ciphertext = "", tag = ""] = real.split(".");
      const flipped = `${ciphertext.slice(0, 10)}${ciphertext[10] === "A" ? "B" : "A"}${ciphertext.slice(11)}`;
      const secret = authSecret();
      const variants: { name: string; value: string }[] = [
        { name: "a tampered ciphertext", value: [header, key, iv, flipped, tag].join(".") },
        { name: "a tampered authentication tag", value: [header, key, iv, ciphertext, `${tag.slice(0, -2)}AA`].join(".") },
        { name: "garbage", value: "not-a-token" },
        { name: "an unsecured JWT (alg: none)", value: `${base64url({ alg: "none", typ: "JWT" })}.${base64url({ sub: danId, sid: danSessionId })}.` },
        {
          name: "a JWE header with alg: none",
          value: [base64url({ alg: "none", enc: "A256CBC-HS512" }), "", iv, ciphertext, tag].join("."),
        },
        {
          name: "a token encrypted with another secret",
          value: await encode({ token: { sub: danId, sid: danSessionId }, secret: crypto.randomBytes(48).toString("base64"), salt: sessionCookieName }),
        },
        {
          name: "a token encrypted for another cookie name (salt)",
          value: await encode({ token: { sub: danId, sid: danSessionId }, secret, salt: "authjs.session-token" }),
        },
        {
          name: "a token past its expiry",
          value: await encode({ token: { sub: danId, sid: danSessionId }, secret, salt: sessionCookieName, maxAge: -120 }),
        },
        // Made with the real secret: only the session record can tell these apart from a good token.
        {
          name: "a token naming a session that does not exist",
          value: await encode({ token: { sub: danId, sid: crypto.randomUUID() }, secret, salt: sessionCookieName }),
        },
        {
          name: "a token naming Dan's session under Carol's user id",
          value: await encode({ token: { sub: carolId, sid: danSessionId }, secret, salt: sessionCookieName }),
        },
        {
          name: "a token without a session id (as issued before session records)",
          value: await encode({ token: { sub: danId }, secret, salt: sessionCookieName }),
        },
      ];
      for (const variant of variants) {
        const context = await browser.newContext({ baseURL: mainOrigin, ignoreHTTPSErrors: true });
        try {
          await context.addCookies([{ name: sessionCookieName, value: variant.value, url: mainOrigin, secure: true, httpOnly: true, sameSite: "Lax" }]);
          await expectUnauthenticatedApi(context.request, variant.name);
          const status = await context.request.get("/api/session");
          expect(status.status(), `${variant.name}: the session status`).toBe(401);
          const page = await context.newPage();
          const answer = await page.goto("/security");
          expect(answer?.status(), `${variant.name}: the page answers`).toBeLessThan(500);
          await expect(page, variant.name).toHaveURL(/\/login$/);
          await expect(page.getByRole("heading", { name: "Sign in" })).toBeVisible();
        } finally {
          await context.close();
        }
      }
      // The real cookie, untouched, still works: the refusals above were about the tokens.
      expect((await accountNumbers(danSignedIn.context.request)).length).toBe(2);
    } finally {
      await danSignedIn.context.close();
      await carolSignedIn.context.close();
    }
  });

  test("a forged session update through Auth.js changes nothing", async ({ browser }) => {
    const dan = person(danEmail);
    const danSignedIn = await signedInContext(browser, dan);
    const carolSignedIn = await signedInContext(browser, person(carolEmail));
    try {
      const { request } = danSignedIn.context;
      const before = await readToken(await sessionCookie(danSignedIn.context));
      const carolToken = await readToken(await sessionCookie(carolSignedIn.context));
      const numbersBefore = await accountNumbers(request);
      const csrf = (await (await request.get("/api/auth/csrf")).json()) as { csrfToken: string };
      expect(csrf.csrfToken).toBeTruthy();

      const forged = await request.post("/api/auth/session", {
        headers: { origin: mainOrigin, "content-type": "application/json" },
        data: {
          csrfToken: csrf.csrfToken,
          data: { user: { role: "admin", id: carolToken.sub }, sessionId: carolToken.sid, sid: carolToken.sid, sub: carolToken.sub },
        },
      });
      // Auth.js accepted the update (the CSRF token was right) and re-issued the cookie...
      expect(forged.status()).toBe(200);
      expect(sessionSetCookies(forged.headersArray())).toHaveLength(1);

      // ...but the token still carries exactly the same two ids and nothing else.
      const after = await readToken(await sessionCookie(danSignedIn.context));
      expect(after.sub).toBe(before.sub);
      expect(after.sid).toBe(before.sid);
      expect(Object.keys(after).sort()).toEqual(["exp", "iat", "jti", "sid", "sub"]);
      expect(await accountNumbers(request)).toEqual(numbersBefore);
    } finally {
      await danSignedIn.context.close();
      await carolSignedIn.context.close();
    }
  });

  test("the session cookie is __Secure-, HttpOnly, Secure, SameSite=Lax, host-only and lives no longer than the idle limit; real requests re-issue it, prefetches and the poll do not", async ({
    browser,
  }) => {
    const { context, page } = await signedInContext(browser, person(danEmail));
    try {
      const signedInSeconds = Date.now() / 1000;
      const cookie = (await context.cookies()).find((candidate) => candidate.name === sessionCookieName);
      expect(cookie?.httpOnly).toBe(true);
      expect(cookie?.secure).toBe(true);
      expect(cookie?.sameSite).toBe("Lax");
      expect(cookie?.path).toBe("/");
      expect(cookie?.domain).toBe("localhost");
      expect(cookie?.expires ?? Infinity).toBeLessThanOrEqual(signedInSeconds + 900 + 5);
      const sessionId = await sessionIdOf(context);

      // A page request: proxy.ts re-issues the cookie with the same attributes and a fresh Max-Age.
      const pageAnswer = await page.goto("/security");
      const issued = sessionSetCookies((await pageAnswer?.headersArray()) ?? []);
      expect(issued).toHaveLength(1);
      const reissued = issued[0] ?? "";
      expect(reissued).toMatch(/;\s*Max-Age=900(;|$)/i);
      expect(reissued).toMatch(/;\s*HttpOnly(;|$)/i);
      expect(reissued).toMatch(/;\s*Secure(;|$)/i);
      expect(reissued).toMatch(/;\s*SameSite=Lax(;|$)/i);
      expect(reissued).toMatch(/;\s*Path=\/(;|$)/i);
      expect(reissued).not.toMatch(/;\s*Domain=/i);
      const reissuedValue = reissued.slice(sessionCookieName.length + 1).split(";")[0] ?? "";
      const reissuedToken = await readToken(reissuedValue);
      expect(reissuedToken.sid).toBe(sessionId);
      expect(Object.keys(reissuedToken).sort()).toEqual(["exp", "iat", "jti", "sid", "sub"]);
      // The browser now holds the re-issued cookie, and the app accepts it.
      expect(await sessionCookie(context)).toBe(reissuedValue);
      expect((await accountNumbers(context.request)).length).toBe(2);

      // Prefetches (however marked) and the timeout dialog's poll get no new cookie from the proxy.
      const prefetchVariants: Record<string, string>[] = [
        { "next-router-prefetch": "1", rsc: "1" },
        { "next-router-prefetch": "1", "next-router-segment-prefetch": "/_tree", rsc: "1" },
        { "sec-purpose": "prefetch" },
        { purpose: "prefetch" },
      ];
      for (const headers of prefetchVariants) {
        const prefetch = await context.request.get("/security", { headers });
        expect(prefetch.status(), JSON.stringify(headers)).toBe(200);
        expect(sessionSetCookies(prefetch.headersArray()), JSON.stringify(headers)).toEqual([]);
      }
      // A client-side navigation (an RSC request without a prefetch mark) is activity and does get one.
      const navigation = await context.request.get("/security", { headers: { rsc: "1" } });
      expect(sessionSetCookies(navigation.headersArray())).toHaveLength(1);
      const poll = await context.request.get("/api/session");
      expect(poll.status()).toBe(200);
      expect(sessionSetCookies(poll.headersArray())).toEqual([]);
      expect(await page.evaluate(() => document.cookie), "scripts see no cookie").toBe("");
    } finally {
      await context.close();
    }
  });

  test("keep-alive refuses a cross-site request", async ({ request }) => {
    const response = await request.post("/api/session/keep-alive", { headers: { origin: "https://evil.example" } });
    expect(response.status()).toBe(403);
    expect(await response.json()).toMatchObject({ code: "cross_site_request" });
  });

  test("the sign-in page explains a timeout with the configured limit", async ({ page }) => {
    await page.goto("/login?reason=timeout");
    await expect(page.getByTestId("signed-out-notice")).toHaveText("You were signed out because you were inactive for 15 minutes.");
    // Any other reason, such as a phisher's own sentence, shows no notice at all. (Markup in the value never
    // reaches the app here: the suite runs behind ModSecurity, which refuses it, as tests/deploy checks.)
    const unknownReason = await page.goto("/login?reason=Your%20account%20is%20suspended%2C%20call%20us");
    expect(unknownReason?.status()).toBe(200);
    await expect(page.getByTestId("signed-out-notice")).toHaveCount(0);
  });
});

test.describe(`with a ${shortIdleTimeoutSeconds}-second idle limit`, () => {
  test.use({ baseURL: shortIdleOrigin });
  // Each test here waits for real seconds to pass.
  test.setTimeout(90_000);

  const shortAlice = () => person(aliceEmail, shortIdleDataDirectory);
  const shortBob = () => person(bobEmail, shortIdleDataDirectory);

  function secondsShown(text: string | null): number {
    const match = /(\d+) seconds?/.exec(text ?? "");
    if (!match?.[1]) throw new Error(`no seconds in "${text}"`);
    return Number(match[1]);
  }

  test("the warning appears before the limit, counts down, and 'Stay signed in' pushes the limit back", async ({ page }) => {
    await signIn(page, shortAlice());
    const dialog = page.getByRole("alertdialog", { name: "Are you still there?" });
    await expect(dialog).toBeHidden();
    const before = await sessionStatus(page.request);
    expect(before.warningSeconds).toBe(shortIdleWarningSeconds);
    // The first deadline on this machine's clock (server and tests share it, but only differences are used).
    const firstDeadline = Date.now() + Date.parse(before.idleExpiresAt) - Date.parse(before.now);

    await expect(dialog).toBeVisible({ timeout: (shortIdleTimeoutSeconds - shortIdleWarningSeconds + 5) * 1000 });
    const stay = dialog.getByRole("button", { name: "Stay signed in" });
    await expect(stay).toBeFocused();
    await expect(dialog.locator('[aria-live="polite"]')).toContainText(/signed out in \d+ seconds/);
    const countdown = page.getByTestId("session-timeout-countdown");
    const first = secondsShown(await countdown.textContent());
    expect(first).toBeLessThanOrEqual(shortIdleWarningSeconds);
    await expect.poll(async () => secondsShown(await countdown.textContent()), { timeout: 5_000 }).toBeLessThan(first);

    await stay.click();
    await expect(dialog).toBeHidden();
    const after = await sessionStatus(page.request);
    expect(Date.parse(after.idleExpiresAt)).toBeGreaterThan(Date.parse(before.idleExpiresAt) + 5_000);
    await expect(page).toHaveURL(`${shortIdleOrigin}/`);
    // Past the first deadline, the session still stands.
    await page.waitForTimeout(Math.max(0, firstDeadline + 1_000 - Date.now()));
    await expect(page).toHaveURL(`${shortIdleOrigin}/`);
    await page.reload();
    await expect(page.getByRole("heading", { name: "Your accounts" })).toBeVisible();
  });

  test("left alone, the page signs out at the limit and the sign-in page says why", async ({ page, context }) => {
    await signIn(page, shortAlice());
    const copiedCookie = await sessionCookie(context);
    await expect(page).toHaveURL(/\/login\?reason=timeout$/, { timeout: (shortIdleTimeoutSeconds + 10) * 1000 });
    await expect(page.getByTestId("signed-out-notice")).toHaveText(
      `You were signed out because you were inactive for ${shortIdleTimeoutSeconds} seconds.`,
    );
    await expectUnauthenticatedApi(page.request, "after the timeout");
    // The server ended the session too: the cookie as it was before the timeout is refused.
    await context.addCookies([{ name: sessionCookieName, value: copiedCookie, url: shortIdleOrigin, secure: true, httpOnly: true, sameSite: "Lax" }]);
    await expectUnauthenticatedApi(page.request, "the pre-timeout cookie");
  });

  test("prefetches and the status poll do not count as activity; a real navigation does", async ({ page }) => {
    const prefetches: string[] = [];
    const prefetchCookies: string[] = [];
    page.on("response", async (response) => {
      const headers = response.request().headers();
      if (!headers["next-router-prefetch"] && !headers["next-router-segment-prefetch"]) return;
      prefetches.push(response.url());
      // A prefetch answered while the test ends has no headers left to read; rejecting here would surface as an
      // unhandled error in the next test. What this test asserts was already recorded by then.
      const responseHeaders = await response.headersArray().catch(() => null);
      if (responseHeaders) prefetchCookies.push(...sessionSetCookies(responseHeaders));
    });
    await signIn(page, shortAlice());
    // The navigation links are in view, so Next prefetches the pages behind them.
    await expect.poll(() => prefetches.length, { timeout: 5_000 }).toBeGreaterThan(0);
    const start = await sessionStatus(page.request);
    expect(prefetchCookies, "the proxy renewed no cookie on Next's own prefetches").toEqual([]);

    // Past the write interval (5 s), so that any request counted as activity would move the deadline.
    await page.waitForTimeout(6_000);
    const polled = await page.evaluate(async () => {
      const answers: number[] = [];
      for (const path of ["/security", "/"]) {
        answers.push((await fetch(path, { headers: { "next-router-prefetch": "1", rsc: "1" } })).status);
        answers.push((await fetch(path, { headers: { "next-router-prefetch": "1", "next-router-segment-prefetch": "/_tree", rsc: "1" } })).status);
      }
      answers.push((await fetch("/api/session")).status);
      return answers;
    });
    expect(polled.every((status) => status === 200)).toBe(true);
    const unchanged = await sessionStatus(page.request);
    expect(unchanged.idleExpiresAt).toBe(start.idleExpiresAt);

    await page.goto("/security");
    const moved = await sessionStatus(page.request);
    expect(Date.parse(moved.idleExpiresAt)).toBeGreaterThan(Date.parse(start.idleExpiresAt) + 5_000);
  });

  test("a session that only prefetches and polls ends at the idle limit, even with a fresh cookie", async ({ browser }) => {
    // 23 seconds of polling after a sign-in that may wait for a fresh authenticator step: more than the default.
    test.setTimeout(90_000);
    const { context, page } = await signedInContext(browser, shortAlice(), shortIdleOrigin);
    try {
      // No page stays open: nothing but the requests below reaches the server.
      await page.close();
      const prefetchHeaders: Record<string, string>[] = [
        { "next-router-prefetch": "1", rsc: "1" },
        { "next-router-prefetch": "1", "next-router-segment-prefetch": "/_tree", rsc: "1" },
        { "sec-purpose": "prefetch" },
        { purpose: "prefetch" },
      ];
      const startedAt = Date.now();
      let round = 0;
      while (Date.now() - startedAt < (shortIdleTimeoutSeconds + 3) * 1000) {
        // Auth.js re-issues the token whenever its own session endpoint is read, so the cookie never lapses here:
        // what ends the session is the server-side record, not the cookie.
        expect((await context.request.get("/api/auth/session")).status()).toBe(200);
        await context.request.get("/security", { headers: prefetchHeaders[round % prefetchHeaders.length], maxRedirects: 0 });
        const poll = await context.request.get("/api/session");
        if (round === 0) expect(poll.status(), "the session was valid to begin with").toBe(200);
        round += 1;
        await new Promise((resolve) => setTimeout(resolve, 2_500));
      }
      expect(round).toBeGreaterThan(5);
      const realNavigation = await context.request.get("/security", { maxRedirects: 0 });
      expect(realNavigation.status()).toBe(307);
      expect(new URL(realNavigation.headers().location ?? "", shortIdleOrigin).pathname).toBe("/login");
      expect((await context.request.get("/api/session")).status()).toBe(401);
    } finally {
      await context.close();
    }
  });

  test("an active customer stays signed in well past the first cookie's lifetime", async ({ page, context }) => {
    await signIn(page, shortBob());
    const firstCookie = await sessionCookie(context);
    const startedAt = Date.now();
    // Twice the idle limit plus Auth.js's 15 seconds of clock tolerance, a real navigation every 4 seconds.
    while (Date.now() - startedAt < (shortIdleTimeoutSeconds * 2 + 15) * 1000) {
      await page.goto(Math.floor((Date.now() - startedAt) / 4000) % 2 === 0 ? "/security" : "/");
      await expect(page).not.toHaveURL(/\/login/);
      await page.waitForTimeout(4_000);
    }
    await page.goto("/");
    await expect(page.getByRole("heading", { name: "Your accounts" })).toBeVisible();
    expect(await sessionCookie(context)).not.toBe(firstCookie);
    expect((await accountNumbers(page.request)).length).toBe(2);
  });

  test("two tabs agree: activity in one moves the deadline in the other, and signing out in one signs out both", async ({ context }) => {
    const first = await context.newPage();
    await signIn(first, shortBob());
    const second = await context.newPage();
    await second.goto("/");
    await expect(second.getByRole("heading", { name: "Your accounts" })).toBeVisible();
    const firstDialog = first.getByRole("alertdialog");
    const secondDialog = second.getByRole("alertdialog");
    await expect(firstDialog).toBeVisible({ timeout: (shortIdleTimeoutSeconds - shortIdleWarningSeconds + 5) * 1000 });
    await expect(secondDialog).toBeVisible();

    // Real activity in the first tab: its new render tells the second tab about the later deadline.
    await first.goto("/security");
    await expect(firstDialog).toBeHidden();
    await expect(secondDialog).toBeHidden({ timeout: 5_000 });

    // Signing out in the second tab sends the first to the sign-in page as well.
    await second.getByRole("button", { name: "Sign out" }).click();
    await expect(second).toHaveURL(/\/login$/);
    await expect(first).toHaveURL(/\/login$/, { timeout: 10_000 });
    await expectUnauthenticatedApi(context.request, "after signing out in the other tab");
  });
});
