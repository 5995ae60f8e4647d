import http from "node:http";
import { expect, test } from "@playwright/test";
import { e2eHttpPort, e2ePort } from "../../playwright.config";
import { demoSignIn } from "./demo-credentials";
import { freshTotpCode, signInAs, submitTotpCode } from "./sign-in-helpers";

function nonceOf(contentSecurityPolicy: string | undefined): string {
  const match = /'nonce-([^']+)'/.exec(contentSecurityPolicy ?? "");
  if (!match?.[1]) throw new Error(`no nonce in CSP: ${contentSecurityPolicy}`);
  return match[1];
}

test("the CSP carries a fresh nonce on every response and the page logs no CSP violation", async ({ page }) => {
  const violations: string[] = [];
  page.on("console", (message) => {
    if (/Content Security Policy|Refused to/i.test(message.text())) violations.push(message.text());
  });
  await page.addInitScript(() => {
    document.addEventListener("securitypolicyviolation", (event) => {
      console.error(`Refused to load: CSP violation ${event.violatedDirective} ${event.blockedURI}`);
    });
  });

  const first = await page.goto("/login");
  const second = await page.goto("/login");
  const firstPolicy = first?.headers()["content-security-policy"];
  const secondPolicy = second?.headers()["content-security-policy"];
  expect(nonceOf(firstPolicy)).not.toEqual(nonceOf(secondPolicy));
  for (const directive of ["'strict-dynamic'", "object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'", "form-action 'self'"]) {
    expect(firstPolicy).toContain(directive);
  }
  expect(firstPolicy).not.toContain("unsafe-inline");
  expect(firstPolicy).not.toContain("unsafe-eval");

  // The page's own scripts carry the nonce, so React hydrates: the form works without a reload.
  const nonce = nonceOf(secondPolicy);
  const scriptNonces = await page.locator("script[nonce]").count();
  expect(scriptNonces).toBeGreaterThan(0);
  expect(await page.locator("script").evaluateAll((scripts) => scripts.map((script) => script.nonce))).toContain(nonce);

  // Sign in (which needs hydrated JavaScript) and look at the dashboard too.
  // Carol, whose authenticator codes no test just before this one has spent (sessions.spec.ts explains).
  const carol = demoSignIn((person) => person.email === "carol@example.com");
  await expect(page.getByRole("button", { name: "Sign in" })).toBeEnabled();
  await page.getByLabel("Email").fill(carol.email);
  await page.getByLabel("Password").fill(carol.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  // The second step's page is rendered per request too, and its form must work as well.
  await page.waitForURL(/\/login\/second-factor/);
  await submitTotpCode(page, await freshTotpCode(carol.totpSecret));
  await expect(page.getByRole("heading", { name: "Your accounts" })).toBeVisible();
  await page.waitForLoadState("networkidle");
  expect(violations).toEqual([]);
});

test("every response carries the security headers and no X-Powered-By", async ({ request }) => {
  const response = await request.get("/login");
  const headers = response.headers();
  expect(headers["strict-transport-security"]).toBe("max-age=31536000; includeSubDomains; preload");
  expect(headers["x-content-type-options"]).toBe("nosniff");
  expect(headers["referrer-policy"]).toBe("strict-origin-when-cross-origin");
  expect(headers["permissions-policy"]).toContain("camera=()");
  expect(headers["cross-origin-opener-policy"]).toBe("same-origin");
  expect(headers["cross-origin-resource-policy"]).toBe("same-origin");
  expect(headers["x-powered-by"]).toBeUndefined();
});

test("authenticated pages and API answers are not cached", async ({ page }) => {
  const dan = demoSignIn((person) => person.email === "dan@example.com");
  await signInAs(page, dan, { landing: /Your accounts/ });
  const dashboard = await page.goto("/");
  expect(dashboard?.headers()["cache-control"]).toContain("no-store");
  const api = await page.request.get("/api/v1/accounts");
  expect(api.headers()["cache-control"]).toContain("no-store");
});

test("the API answers 401 problem+json without a session", async ({ request }) => {
  const response = await request.get("/api/v1/accounts");
  expect(response.status()).toBe(401);
  expect(response.headers()["content-type"]).toContain("application/problem+json");
  expect(await response.json()).toMatchObject({ status: 401, code: "unauthenticated" });
});

test("plain HTTP on the redirect port answers 308 to the same path on HTTPS", async () => {
  const answer = await new Promise<{ status: number | undefined; location: string | undefined }>((resolve, reject) => {
    const request = http.request(
      // A forged Host header must not steer the redirect: the target comes from configuration.
      { host: "127.0.0.1", port: e2eHttpPort, path: "/accounts/abc?tab=history", method: "POST", headers: { host: "evil.example" } },
      (response) => {
        response.resume();
        resolve({ status: response.statusCode, location: response.headers.location });
      },
    );
    request.on("error", reject);
    request.end();
  });
  expect(answer.status).toBe(308);
  expect(answer.location).toBe(`https://localhost:${e2ePort}/accounts/abc?tab=history`);
});

test("the health check answers ok without revealing versions", async ({ request }) => {
  const response = await request.get("/api/health");
  expect(response.status()).toBe(200);
  expect(await response.json()).toEqual({ status: "ok" });
});

test("the readiness check answers ready (database and keys; ./run.sh test serves this suite from a SoftHSM2 token) without revealing versions", async ({ request }) => {
  const response = await request.get("/api/ready");
  expect(response.status()).toBe(200);
  expect(await response.json()).toEqual({ status: "ready" });
  expect(response.headers()["server"] ?? "").not.toMatch(/[0-9]/);
});

test("a cross-site form post is refused with 403", async ({ request }) => {
  const response = await request.post("/api/auth/signout", {
    headers: { origin: "https://evil.example", "content-type": "application/x-www-form-urlencoded" },
    data: "csrfToken=x",
  });
  expect(response.status()).toBe(403);
  expect(response.headers()["content-type"]).toContain("application/problem+json");
});
