import { expect, test } from "@playwright/test";
import { clientAddresses } from "./support/client-addresses";
import { alice, bob, securityOrigin } from "./support/environment";
import { headerValue, rawRequest, type RawResponse } from "./support/raw-http";
import { accountNumbers, signInThroughForm } from "./support/sign-in";

/**
 * Headers that Next.js uses internally or for client navigation, in the forms known from CVE-2025-29927 and
 * its successors. None of them may let a request skip the proxy's sign-in redirect or the pages' and route
 * handlers' own checks (STACK-NOTES trap 13).
 */
const bypassAttempts: Record<string, string>[] = [
  { "x-middleware-subrequest": "middleware" },
  { "x-middleware-subrequest": "src/middleware" },
  { "x-middleware-subrequest": "proxy" },
  { "x-middleware-subrequest": "src/proxy" },
  { "x-middleware-subrequest": "middleware:middleware:middleware:middleware:middleware" },
  { "x-middleware-subrequest": "proxy:proxy:proxy:proxy:proxy" },
  { "x-middleware-subrequest": "src/middleware:src/middleware:src/middleware:src/middleware:src/middleware" },
  { "x-nextjs-data": "1" },
  { "next-router-prefetch": "1" },
  { rsc: "1" },
  { rsc: "1", "next-router-prefetch": "1", "next-router-segment-prefetch": "/_tree" },
  { "next-router-segment-prefetch": "/_tree" },
  { "x-invoke-path": "/" },
  { "x-invoke-path": "/api/v1/accounts", "x-invoke-query": "{}" },
  { "x-matched-path": "/" },
  { "x-matched-path": "/api/v1/accounts" },
  { "x-middleware-prefetch": "1" },
  { "x-middleware-invoke": "1" },
  { "x-client-ip": "127.0.0.1" },
];

// Anything that would show a customer's money: the dashboard's table, the API's fields, a pound amount.
const accountDataPattern = /accountNumber|data-account-number|Your accounts|balanceMinor|£\d/;

function describe(headers: Record<string, string>): string {
  return Object.entries(headers)
    .map(([name, value]) => `${name}: ${value}`)
    .join(", ");
}

/**
 * GET that follows a redirect back to the same path: Next answers an RSC request without its cache-busting
 * `_rsc` query with a 307 to the same path plus `?_rsc…`, which a client then requests. Where that leads counts.
 */
async function getFollowingSamePath(path: string, from: string, headers: Record<string, string>): Promise<RawResponse> {
  let target = path;
  for (let hop = 0; ; hop += 1) {
    const response = await rawRequest({ path: target, from, headers });
    const location = headerValue(response.headers, "location");
    if (response.status < 300 || response.status >= 400 || location === undefined || hop === 3) return response;
    const next = new URL(location, `${securityOrigin}${target}`);
    if (next.origin !== securityOrigin || next.pathname !== new URL(target, securityOrigin).pathname) return response;
    target = `${next.pathname}${next.search}`;
  }
}

function expectNoAccountData(response: RawResponse, label: string, numbers: string[]): void {
  expect(response.body, label).not.toMatch(accountDataPattern);
  for (const number of numbers) expect(response.body, `${label}: no account number`).not.toContain(number);
}

test("signed out, Next's internal and prefetch headers never open the dashboard or the accounts API", async () => {
  const from = clientAddresses.bypassSignedOut;
  const helper = clientAddresses.bypassKnownNumbers;
  const knownNumbers = await accountNumbers(await signInThroughForm(alice(), helper), helper);

  for (const attempt of bypassAttempts) {
    const label = describe(attempt);
    const page = await getFollowingSamePath("/", from, { accept: "text/html,*/*", ...attempt });
    // A redirect to the sign-in page (proxy or page), or a refusal; never the dashboard.
    if (page.status >= 300 && page.status < 400) {
      expect(new URL(headerValue(page.headers, "location") ?? "", securityOrigin).pathname, `/ with ${label}`).toBe("/login");
    } else {
      expect([401, 403, 404], `/ with ${label} answered ${page.status}`).toContain(page.status);
    }
    expectNoAccountData(page, `/ with ${label}`, knownNumbers);

    const api = await getFollowingSamePath("/api/v1/accounts", from, { accept: "application/json", ...attempt });
    expect(api.status, `/api/v1/accounts with ${label}`).toBe(401);
    expectNoAccountData(api, `/api/v1/accounts with ${label}`, knownNumbers);
  }
});

/** Paths that reach a page by another name: RSC and segment-prefetch URLs, data routes, route groups, odd spellings. */
const alternativePaths = [
  "/?_rsc=1",
  "/index",
  "/index.rsc",
  "/index.segments/_tree.segment.rsc",
  "/index.segments/__PAGE__.segment.rsc",
  "/_next/data/build/index.json",
  "//",
  "/%2f",
  "/.",
  "/(bank)",
  "/%28bank%29",
  "/_not-found",
  "/_next/../",
  "/api/v1/../../",
  "/api/v1/accounts/",
  "/api/v1//accounts",
  "/API/V1/ACCOUNTS",
  "/api/v1/accounts.json",
  "/api/v1/accounts?__nextDataReq=1",
];

test("signed out, RSC, segment-prefetch, data-route and oddly spelled URLs lead to the sign-in page or a refusal, never to account data", async () => {
  const from = clientAddresses.bypassAlternativePaths;
  for (const startPath of alternativePaths) {
    const headerSets: Record<string, string>[] = [{ accept: "text/html,*/*" }, { accept: "*/*", rsc: "1", "next-router-prefetch": "1" }];
    for (const headers of headerSets) {
      const label = `${startPath} (${describe(headers)})`;
      let path = startPath;
      let response = await rawRequest({ path, from, headers });
      // Follow the bank's own normalising redirects (trailing slash, `?_rsc`), never past the sign-in page.
      for (let hop = 0; hop < 4 && response.status >= 300 && response.status < 400; hop += 1) {
        const target = headerValue(response.headers, "location") ?? headerValue(response.headers, "x-nextjs-redirect") ?? "";
        const next = new URL(target, `${securityOrigin}/`);
        expect(next.origin, `${label}: redirects stay on the bank`).toBe(securityOrigin);
        if (/\/login(\.json)?$/.test(next.pathname)) break;
        path = `${next.pathname}${next.search}`;
        response = await rawRequest({ path, from, headers });
      }
      expectNoAccountData(response, label, []);
      if (response.status >= 300 && response.status < 400) {
        const target = headerValue(response.headers, "location") ?? headerValue(response.headers, "x-nextjs-redirect") ?? "";
        expect(new URL(target, securityOrigin).pathname, `${label}: redirected to the sign-in page`).toMatch(/\/login(\.json)?$/);
      } else {
        expect([400, 401, 404, 405], `${label} answered ${response.status}`).toContain(response.status);
      }
    }
  }
});

test("signed in as Alice, no internal header makes the dashboard or the API show Bob's accounts", async () => {
  const aliceSession = await signInThroughForm(alice(), clientAddresses.bypassAlice);
  const aliceNumbers = await accountNumbers(aliceSession, clientAddresses.bypassAlice);
  const bobNumbers = await accountNumbers(await signInThroughForm(bob(), clientAddresses.bypassBob), clientAddresses.bypassBob);
  expect(bobNumbers.some((number) => aliceNumbers.includes(number)), "Alice and Bob hold different accounts").toBe(false);

  const from = clientAddresses.bypassAlice;
  for (const attempt of bypassAttempts) {
    const label = describe(attempt);
    for (const path of ["/", "/api/v1/accounts"]) {
      const response = await getFollowingSamePath(path, from, {
        accept: "text/html,application/json,*/*",
        cookie: aliceSession.header(),
        ...attempt,
      });
      expect(response.status, `${path} with ${label}`).toBeLessThan(500);
      for (const number of bobNumbers) expect(response.body, `${path} with ${label}: none of Bob's numbers`).not.toContain(number);
    }
  }
  // The same request without tricks does show Alice her own accounts, so the check above looks at real pages.
  const dashboard = await rawRequest({ path: "/", from, headers: { accept: "text/html", cookie: aliceSession.header() } });
  expect(dashboard.status).toBe(200);
  for (const number of aliceNumbers) expect(dashboard.body).toContain(number);
});
