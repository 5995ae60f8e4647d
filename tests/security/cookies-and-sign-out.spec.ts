import { expect, test } from "@playwright/test";
import { contextFromAddress } from "./support/browser-from-address";
import { clientAddresses } from "./support/client-addresses";
import { signInAs } from "../e2e/sign-in-helpers";
import { alice } from "./support/environment";

test("a real sign-in in Chromium sets host-locked, HttpOnly, Secure, SameSite cookies, and signing out clears the session", async ({
  browser,
}) => {
  const client = await contextFromAddress(browser, clientAddresses.cookiesBrowser);
  try {
    const { context } = client;
    const page = await context.newPage();
    const person = alice();
    const signedInAt = Date.now() / 1000;
    // Both steps: the password, then a code computed from the demo secret.
    await signInAs(page, person, { landing: /Your accounts/ });
    // Auth.js issues its CSRF cookie when its own endpoints are used; the browser fetches it the normal way.
    expect((await page.request.get("/api/auth/csrf")).status()).toBe(200);

    const cookies = await context.cookies();
    const byName = new Map(cookies.map((cookie) => [cookie.name, cookie]));
    const session = byName.get("__Secure-authjs.session-token");
    expect(session, "the session cookie has the __Secure- prefix").toBeDefined();
    expect(session?.httpOnly).toBe(true);
    expect(session?.secure).toBe(true);
    expect(["Lax", "Strict"]).toContain(session?.sameSite);
    expect(session?.path).toBe("/");
    // Host-only (no Domain attribute): Chromium records it for exactly the host that set it.
    expect(session?.domain).toBe("localhost");
    // The idle timeout (15 minutes) bounds the cookie; it is not a long-lived cookie.
    expect(session?.expires ?? 0).toBeGreaterThan(signedInAt);
    expect(session?.expires ?? Infinity).toBeLessThanOrEqual(signedInAt + 15 * 60 + 60);

    const csrf = byName.get("__Host-authjs.csrf-token");
    expect(csrf, "the CSRF cookie has the __Host- prefix").toBeDefined();
    expect(csrf?.httpOnly).toBe(true);
    expect(csrf?.secure).toBe(true);
    expect(csrf?.path).toBe("/");
    expect(csrf?.domain).toBe("localhost");

    const callbackCookies = cookies.filter((cookie) => cookie.name.includes("callback-url"));
    expect(callbackCookies.length, "a callback-url cookie was set").toBeGreaterThan(0);
    for (const cookie of callbackCookies) {
      expect(cookie.name.startsWith("__Secure-") || cookie.name.startsWith("__Host-"), cookie.name).toBe(true);
      expect(cookie.secure).toBe(true);
      expect(cookie.httpOnly).toBe(true);
    }
    // The sign-in ticket's cookies are gone once the sign-in completed.
    expect(cookies.filter((cookie) => cookie.name.startsWith("__Host-bank-sign-in")), "no ticket cookie left").toEqual([]);
    // Every cookie of the bank is Secure and out of reach of scripts.
    for (const cookie of cookies) {
      expect(cookie.secure, `${cookie.name} is Secure`).toBe(true);
      expect(cookie.httpOnly, `${cookie.name} is HttpOnly`).toBe(true);
    }
    expect(await page.evaluate(() => document.cookie), "scripts see no cookie").toBe("");

    // Signing out: the page's form posts to /logout, which answers 303 to /login and clears the site's data.
    const logoutResponse = page.waitForResponse((response) => new URL(response.url()).pathname === "/logout");
    await page.getByRole("button", { name: "Sign out" }).click();
    const logout = await logoutResponse;
    expect(logout.request().method()).toBe("POST");
    expect(logout.status()).toBe(303);
    expect(new URL((await logout.allHeaders()).location ?? "", page.url()).pathname).toBe("/login");
    expect((await logout.allHeaders())["clear-site-data"]).toBe('"cache", "cookies", "storage"');
    await expect(page).toHaveURL(/\/login$/);
    await expect(page.getByRole("heading", { name: "Sign in" })).toBeVisible();

    const remaining = (await context.cookies()).map((cookie) => cookie.name);
    expect(remaining.filter((name) => name.startsWith("__Secure-authjs.session-token")), "no session cookie left").toEqual([]);
    expect((await page.request.get("/api/v1/accounts")).status(), "the API no longer knows the browser").toBe(401);
    await page.goto("/");
    await expect(page).toHaveURL(/\/login$/);
  } finally {
    await client.close();
  }
});
