import { expect, test } from "@playwright/test";
import { clientAddresses } from "./support/client-addresses";
import { alice, securityOrigin } from "./support/environment";
import { expectScriptlessPolicy, expectStaticSecurityHeaders, expectStrictNoncePolicy } from "./support/policy";
import { headerValue, rawRequest, type RawResponse } from "./support/raw-http";
import { signInThroughForm } from "./support/sign-in";

test("pages, API answers, 404s, redirects and refusals all carry every security header, and none names the server", async () => {
  const from = clientAddresses.headers;
  const session = await signInThroughForm(alice(), clientAddresses.headersSignIn);
  const cookie = session.header();
  const get = (path: string, headers: Record<string, string> = {}): Promise<RawResponse> =>
    rawRequest({ path, from, headers: { accept: "text/html,application/xhtml+xml,*/*;q=0.8", ...headers } });

  // Documents rendered by the app: the full nonce-based policy.
  const signInPage = await get("/login");
  const dashboard = await get("/", { cookie });
  const notFoundPage = await get("/no-such-page", { cookie });
  expect(signInPage.status).toBe(200);
  expect(dashboard.status).toBe(200);
  expect(dashboard.body).toContain("Your accounts");
  expect(notFoundPage.status).toBe(404);
  // API answers that pass the proxy: the same policy.
  const accounts = await get("/api/v1/accounts", { cookie, accept: "application/json" });
  const accountsSignedOut = await get("/api/v1/accounts", { accept: "application/json" });
  const unknownApi = await get("/api/v1/no-such-thing", { accept: "application/json" });
  expect(accounts.status).toBe(200);
  expect(accountsSignedOut.status).toBe(401);
  expect(unknownApi.status).toBe(404);
  for (const [where, response] of Object.entries({ signInPage, dashboard, notFoundPage, accounts, accountsSignedOut, unknownApi })) {
    expectStaticSecurityHeaders(response.headers, where);
    expectStrictNoncePolicy(headerValue(response.headers, "content-security-policy"), where);
  }

  // Answers that run no script of the app: the static headers all the same.
  const redirectToSignIn = await get("/");
  expect(redirectToSignIn.status).toBeGreaterThanOrEqual(300);
  expect(redirectToSignIn.status).toBeLessThan(400);
  expect(new URL(headerValue(redirectToSignIn.headers, "location") ?? "", securityOrigin).pathname).toBe("/login");
  const health = await get("/api/health", { accept: "application/json" });
  expect(health.status).toBe(200);
  const script = /<script src="(\/_next\/static\/[^"]+\.js)"/.exec(signInPage.body)?.[1];
  expect(script, "the sign-in page loads a script").toBeTruthy();
  const staticScript = await get(script ?? "/");
  expect(staticScript.status).toBe(200);
  expect(headerValue(staticScript.headers, "content-type")).toMatch(/javascript/);
  const refusedJson = await rawRequest({ method: "POST", path: "/logout", from, headers: { origin: "https://evil.example" } });
  const refusedPage = await rawRequest({
    method: "POST",
    path: "/logout",
    from,
    headers: { origin: "https://evil.example", accept: "text/html" },
  });
  expect(refusedJson.status).toBe(403);
  expect(refusedPage.status).toBe(403);
  for (const [where, response] of Object.entries({ redirectToSignIn, health, staticScript, refusedJson, refusedPage })) {
    expectStaticSecurityHeaders(response.headers, where);
  }
  // The proxy's own refusal page runs no script at all, so its policy allows none.
  expectScriptlessPolicy(headerValue(refusedPage.headers, "content-security-policy"), "refusal page");
  expect(headerValue(refusedPage.headers, "content-type")).toMatch(/^text\/html/);
});
