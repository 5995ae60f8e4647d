import crypto from "node:crypto";
import { type APIRequestContext, expect, test } from "@playwright/test";
import { e2ePort } from "../../playwright.config";
import { demoSignIn } from "./demo-credentials";
import { freshTotpCode, signInAs } from "./sign-in-helpers";

// The JSON transfer API against the built app, authenticated by the session cookie a real two-step sign-in sets
// in the browser (a page's `request` shares its context's cookies). Writes carry the app's own Origin, as a
// browser's fetch would: the origin rule is tested on its own below. Every test keeps its API calls few: the
// per-IP API limit (50 an hour by default) is shared by the whole suite, which runs from one address.

const appOrigin = `https://localhost:${e2ePort}`;

interface AccountJson {
  id: string;
  accountNumber: string;
  balanceMinor: string;
  availableMinor: string;
}

async function accountsOf(request: APIRequestContext): Promise<AccountJson[]> {
  const response = await request.get("/api/v1/accounts");
  expect(response.status()).toBe(200);
  return ((await response.json()) as { accounts: AccountJson[] }).accounts;
}

function newKey(): string {
  return `e2e-${crypto.randomUUID()}`;
}

function writeHeaders(idempotencyKey?: string): Record<string, string> {
  return {
    origin: appOrigin,
    "content-type": "application/json",
    ...(idempotencyKey === undefined ? {} : { "idempotency-key": idempotencyKey }),
  };
}

test("a customer moves money through the API: key required, created, readable, replayed, conflicting key refused", async ({
  page,
}) => {
  // Bob here and Alice in the next test: each sign-in and each confirmation spends one of a person's
  // authenticator codes (three usable per 30 seconds; sessions.spec.ts explains).
  const bob = demoSignIn((person) => person.email === "bob@example.com");
  await signInAs(page, bob, { landing: /Your accounts/ });
  const request = page.request;
  const [from, to] = await accountsOf(request);
  if (!from || !to) throw new Error("Bob should have two accounts");
  const body = { fromAccountId: from.id, to: { kind: "own_account", accountId: to.id }, amount: "12.34", memo: "API test" };

  const withoutKey = await request.post("/api/v1/transfers", { headers: writeHeaders(), data: body });
  expect(withoutKey.status()).toBe(400);
  expect(withoutKey.headers()["content-type"]).toContain("application/problem+json");
  expect(await withoutKey.json()).toMatchObject({ status: 400, code: "invalid_input" });

  const key = newKey();
  const created = await request.post("/api/v1/transfers", { headers: writeHeaders(key), data: body });
  expect(created.status()).toBe(201);
  expect(created.headers()["idempotent-replayed"]).toBeUndefined();
  const createdJson = (await created.json()) as { transfer: { id: string; status: string; amountMinor: string; amount: string } };
  expect(createdJson.transfer).toMatchObject({ status: "posted", amountMinor: "1234", amount: "12.34" });
  const transferId = createdJson.transfer.id;
  expect(created.headers()["location"]).toBe(`/api/v1/transfers/${transferId}`);

  const read = await request.get(`/api/v1/transfers/${transferId}`);
  expect(read.status()).toBe(200);
  expect(await read.json()).toMatchObject({
    transfer: {
      id: transferId,
      status: "posted",
      kind: "internal",
      direction: "between_own_accounts",
      amountMinor: "1234",
      fromAccountNumber: from.accountNumber,
      toAccountNumber: to.accountNumber,
      memo: "API test",
    },
  });

  const replay = await request.post("/api/v1/transfers", { headers: writeHeaders(key), data: body });
  expect(replay.status()).toBe(201);
  expect(replay.headers()["idempotent-replayed"]).toBe("true");
  expect(((await replay.json()) as { transfer: { id: string } }).transfer.id).toBe(transferId);

  const conflicting = await request.post("/api/v1/transfers", {
    headers: writeHeaders(key),
    data: { ...body, amount: "12.35" },
  });
  expect(conflicting.status()).toBe(422);
  expect(await conflicting.json()).toMatchObject({ code: "idempotency_conflict" });

  // The replay moved nothing: exactly one 12.34 left the source account.
  const [fromAfter] = await accountsOf(request);
  expect(BigInt(fromAfter?.balanceMinor ?? "0")).toBe(BigInt(from.balanceMinor) - 1234n);

  // Not a uuid, and a uuid of nothing: both simply not found.
  expect((await request.get("/api/v1/transfers/not-a-uuid")).status()).toBe(404);
  expect((await request.get(`/api/v1/transfers/${crypto.randomUUID()}`)).status()).toBe(404);
});

test("a transfer above the confirmation threshold needs a second factor bound to exactly that transfer", async ({ page }) => {
  const alice = demoSignIn((person) => person.email === "alice@example.com");
  await signInAs(page, alice, { landing: /Your accounts/ });
  const request = page.request;
  const [from, to] = await accountsOf(request);
  if (!from || !to) throw new Error("Alice should have two accounts");
  const key = newKey();
  const body = { fromAccountId: from.id, to: { kind: "own_account", accountId: to.id }, amount: "1000.01" };

  const unconfirmed = await request.post("/api/v1/transfers", { headers: writeHeaders(key), data: body });
  expect(unconfirmed.status()).toBe(403);
  const problem = (await unconfirmed.json()) as { code: string; details?: { confirmationPayloadHash?: string } };
  expect(problem.code).toBe("step_up_required");
  expect(problem.details?.confirmationPayloadHash).toMatch(/^[0-9a-f]{64}$/);

  // A confirmation of a different amount does not cover this transfer.
  const otherAmount = await request.post("/api/v1/transfers/confirmations", {
    headers: writeHeaders(),
    data: { code: await freshTotpCode(alice.totpSecret), transfer: { ...body, amount: "1000.02", idempotencyKey: key } },
  });
  expect(otherAmount.status()).toBe(204);
  expect((await request.post("/api/v1/transfers", { headers: writeHeaders(key), data: body })).status()).toBe(403);

  const confirmed = await request.post("/api/v1/transfers/confirmations", {
    headers: writeHeaders(),
    data: { code: await freshTotpCode(alice.totpSecret), transfer: { ...body, idempotencyKey: key } },
  });
  expect(confirmed.status()).toBe(204);
  const posted = await request.post("/api/v1/transfers", { headers: writeHeaders(key), data: body });
  expect(posted.status()).toBe(201);
  expect(await posted.json()).toMatchObject({ transfer: { status: "posted", amountMinor: "100001" } });
});

test("another customer's account cannot be debited or read through the API, and nothing changes", async ({ browser }) => {
  const bobContext = await browser.newContext({ ignoreHTTPSErrors: true, baseURL: appOrigin });
  const bobPage = await bobContext.newPage();
  await signInAs(bobPage, demoSignIn((person) => person.email === "bob@example.com"), { landing: /Your accounts/ });
  const [bobAccount] = await accountsOf(bobPage.request);
  if (!bobAccount) throw new Error("Bob should have an account");
  // One of Bob's own transfers, to check that Alice cannot read it either.
  const [, bobSavings] = await accountsOf(bobPage.request);
  if (!bobSavings) throw new Error("Bob should have two accounts");
  const bobTransfer = await bobPage.request.post("/api/v1/transfers", {
    headers: writeHeaders(newKey()),
    data: { fromAccountId: bobAccount.id, to: { kind: "own_account", accountId: bobSavings.id }, amount: "1.00" },
  });
  expect(bobTransfer.status()).toBe(201);
  const bobTransferId = ((await bobTransfer.json()) as { transfer: { id: string } }).transfer.id;
  const [bobBefore] = await accountsOf(bobPage.request);

  // The other customer is Carol: Alice's authenticator codes are spent by the test above.
  const carolPage = await browser.newPage({ ignoreHTTPSErrors: true, baseURL: appOrigin });
  await signInAs(carolPage, demoSignIn((person) => person.email === "carol@example.com"), { landing: /Your accounts/ });
  const [carolAccount] = await accountsOf(carolPage.request);
  if (!carolAccount) throw new Error("Carol should have an account");

  const stolen = await carolPage.request.post("/api/v1/transfers", {
    headers: writeHeaders(newKey()),
    data: { fromAccountId: bobAccount.id, to: { kind: "own_account", accountId: carolAccount.id }, amount: "5.00" },
  });
  expect(stolen.status()).toBe(404);
  expect(await stolen.json()).toMatchObject({ code: "not_found" });
  expect((await carolPage.request.get(`/api/v1/transfers/${bobTransferId}`)).status()).toBe(404);

  const [bobAfter] = await accountsOf(bobPage.request);
  expect(bobAfter?.balanceMinor).toBe(bobBefore?.balanceMinor);
  expect(bobAfter?.availableMinor).toBe(bobBefore?.availableMinor);
  await bobContext.close();
  await carolPage.close();
});

test("a cross-site or origin-less write is refused with 403 before anything moves", async ({ page }) => {
  // Dan, not Alice: Alice's authenticator codes are spent by the tests above (sessions.spec.ts explains).
  await signInAs(page, demoSignIn((person) => person.email === "dan@example.com"), { landing: /Your accounts/ });
  const [from, to] = await accountsOf(page.request);
  if (!from || !to) throw new Error("Dan should have two accounts");
  const data = { fromAccountId: from.id, to: { kind: "own_account", accountId: to.id }, amount: "3.00" };

  const crossSite = await page.request.post("/api/v1/transfers", {
    headers: { ...writeHeaders(newKey()), origin: "https://evil.example" },
    data,
  });
  expect(crossSite.status()).toBe(403);
  expect(await crossSite.json()).toMatchObject({ code: "cross_site_request" });

  const withoutOrigin = await page.request.post("/api/v1/transfers", {
    headers: { "content-type": "application/json", "idempotency-key": newKey() },
    data,
  });
  expect(withoutOrigin.status()).toBe(403);

  const [fromAfter] = await accountsOf(page.request);
  expect(fromAfter?.balanceMinor).toBe(from.balanceMinor);
});

test("the OpenAPI document is public JSON describing every API path", async ({ request }) => {
  const response = await request.get("/api/v1/openapi.json");
  expect(response.status()).toBe(200);
  expect(response.headers()["content-type"]).toContain("application/json");
  const document = (await response.json()) as {
    openapi: string;
    paths: Record<string, Record<string, unknown>>;
    components: { securitySchemes: Record<string, { in: string }>; schemas: Record<string, unknown> };
  };
  expect(document.openapi).toBe("3.1.0");
  for (const path of [
    "/api/v1/accounts",
    "/api/v1/accounts/{id}/transactions",
    "/api/v1/transfers",
    "/api/v1/transfers/{id}",
    "/api/v1/transfers/confirmations",
    "/api/v1/whoami",
  ]) {
    expect(Object.keys(document.paths)).toContain(path);
  }
  expect(Object.keys(document.paths["/api/v1/transfers"] ?? {})).toContain("post");
  expect(document.components.securitySchemes.sessionCookie?.in).toBe("cookie");
  expect(document.components.schemas).toHaveProperty("TransferRequest");
  expect(document.components.schemas).toHaveProperty("Problem");
});

test("/docs renders the API documentation without signing in, under the nonce CSP, with no external script", async ({
  page,
}) => {
  const violations: string[] = [];
  page.on("console", (message) => {
    if (/Content Security Policy|Refused to/i.test(message.text())) violations.push(message.text());
  });
  const externalRequests: string[] = [];
  page.on("request", (request) => {
    if (new URL(request.url()).origin !== appOrigin) externalRequests.push(request.url());
  });

  const response = await page.goto("/docs");
  expect(response?.status()).toBe(200);
  expect(new URL(page.url()).pathname).toBe("/docs");
  const policy = response?.headers()["content-security-policy"] ?? "";
  expect(policy).toContain("'strict-dynamic'");
  expect(policy).toMatch(/'nonce-[^']+'/);
  expect(policy).not.toContain("unsafe-inline");

  await expect(page.getByRole("heading", { name: "Harbour Bank API" })).toBeVisible();
  await expect(page.getByTestId("operation")).toHaveCount(7);
  await expect(page.getByRole("heading", { name: "POST /api/v1/transfers", exact: true })).toBeVisible();
  await expect(page.getByText("Idempotency-Key").first()).toBeVisible();
  await expect(page.getByRole("heading", { name: "TransferRequest" })).toBeVisible();

  const scriptSources = await page.locator("script[src]").evaluateAll((scripts) =>
    scripts.map((script) => (script as HTMLScriptElement).src),
  );
  for (const source of scriptSources) expect(new URL(source).origin).toBe(appOrigin);
  await page.waitForLoadState("networkidle");
  expect(externalRequests).toEqual([]);
  expect(violations).toEqual([]);
});
