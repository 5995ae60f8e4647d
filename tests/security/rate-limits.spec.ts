import { expect, test } from "@playwright/test";
import { clientAddresses } from "./support/client-addresses";
import { alice } from "./support/environment";
import { headerValue, jsonOf, rawRequest, type RawResponse } from "./support/raw-http";
import {
  loadSignInForm,
  locationPath,
  postSignInForm,
  sessionCookieName,
  signInThroughForm,
  wrongPasswordMessage,
} from "./support/sign-in";

// The real, configured limits (lib/env-schema.ts defaults); the suite's server runs with no override.
const apiPerHour = 50;
const signInsPer15Minutes = 10;

function seconds(response: RawResponse, name: string): number {
  const value = headerValue(response.headers, name);
  expect(value, `${name} header`).toMatch(/^\d+$/);
  return Number(value);
}

function expectCleanProblem(response: RawResponse, status: number, code: string): void {
  expect(response.status).toBe(status);
  expect(headerValue(response.headers, "content-type")).toMatch(/^application\/problem\+json/);
  expect(jsonOf(response)).toMatchObject({ status, code });
  expect(response.body).not.toMatch(/\bat\s+\S+\s+\(|\n\s+at\s|Error:/);
}

test(`the API allows ${apiPerHour} calls an hour per client, announces its budget, and answers the next one 429 with Retry-After`, async () => {
  const session = await signInThroughForm(alice(), clientAddresses.apiBudgetSignIn);
  const call = (from: string) =>
    rawRequest({ path: "/api/v1/accounts", from, headers: { cookie: session.header(), accept: "application/json" } });

  for (let index = 1; index <= apiPerHour; index += 1) {
    const response = await call(clientAddresses.apiBudget);
    expect(response.status, `call ${index}`).toBe(200);
    expect(seconds(response, "ratelimit-limit")).toBe(apiPerHour);
    expect(seconds(response, "ratelimit-remaining"), `remaining after call ${index}`).toBe(apiPerHour - index);
    const reset = seconds(response, "ratelimit-reset");
    expect(reset).toBeGreaterThan(0);
    expect(reset).toBeLessThanOrEqual(3600);
  }

  const refused = await call(clientAddresses.apiBudget);
  expectCleanProblem(refused, 429, "rate_limited");
  expect(seconds(refused, "ratelimit-limit")).toBe(apiPerHour);
  expect(seconds(refused, "ratelimit-remaining")).toBe(0);
  const reset = seconds(refused, "ratelimit-reset");
  expect(reset).toBeGreaterThan(0);
  expect(reset).toBeLessThanOrEqual(3600);
  const retryAfter = seconds(refused, "retry-after");
  expect(retryAfter).toBeGreaterThanOrEqual(1);
  expect(retryAfter).toBeLessThanOrEqual(3600);
  expect(refused.body, "a refused call carries no account data").not.toContain("accountNumber");

  // The budget belongs to the client address, not to the customer or the whole API.
  const neighbour = await call(clientAddresses.apiBudgetNeighbour);
  expect(neighbour.status).toBe(200);
  expect(seconds(neighbour, "ratelimit-remaining")).toBe(apiPerHour - 1);
});

test(`the ${signInsPer15Minutes + 1}th sign-in attempt from one client within 15 minutes is refused, as problem+json or as a readable page`, async () => {
  const from = clientAddresses.signInBudget;
  const person = alice();
  const fields = await loadSignInForm(from);
  // Unknown addresses, so that the per-account lockout (5 failures) stays out of this per-IP measurement.
  for (let attempt = 1; attempt <= signInsPer15Minutes; attempt += 1) {
    const response = await postSignInForm({ from, fields, email: `nobody-${attempt}@example.com`, password: `wrong-${attempt}` });
    expect(response.status, `attempt ${attempt} is a real, answered sign-in attempt`).toBe(200);
    expect(response.body).toContain(wrongPasswordMessage);
  }

  // The right password no longer helps: the door is shut for this client, and no session is created.
  const refused = await postSignInForm({ from, fields, email: person.email, password: person.password, headers: { accept: "*/*" } });
  expectCleanProblem(refused, 429, "rate_limited");
  expect(seconds(refused, "retry-after")).toBeGreaterThanOrEqual(1);
  expect(seconds(refused, "retry-after")).toBeLessThanOrEqual(900);
  expect(seconds(refused, "ratelimit-limit")).toBe(signInsPer15Minutes);
  expect(seconds(refused, "ratelimit-remaining")).toBe(0);
  expect(refused.headers["set-cookie"] ?? []).not.toContainEqual(expect.stringContaining(sessionCookieName));

  // A browser gets a page a person can read, not JSON and not a stack trace.
  const page = await postSignInForm({
    from,
    fields,
    email: person.email,
    password: person.password,
    headers: { accept: "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8" },
  });
  expect(page.status).toBe(429);
  expect(headerValue(page.headers, "content-type")).toMatch(/^text\/html/);
  expect(page.body).toMatch(/<h1>[^<]*too many[^<]*<\/h1>/i);
  expect(page.body).not.toMatch(/\bat\s+\S+\s+\(|\n\s+at\s/);
  expect(seconds(page, "retry-after")).toBeGreaterThanOrEqual(1);

  // Another client is unaffected.
  const neighbourFields = await loadSignInForm(clientAddresses.signInBudgetNeighbour);
  const neighbour = await postSignInForm({
    from: clientAddresses.signInBudgetNeighbour,
    fields: neighbourFields,
    email: person.email,
    password: person.password,
  });
  // A right password now answers 303 to the second step, with the ticket's cookies and still no session.
  expect(neighbour.status).toBe(303);
  expect(locationPath(neighbour)).toMatch(/^\/login\/second-factor\?/);
  expect(neighbour.headers["set-cookie"] ?? []).not.toContainEqual(expect.stringContaining(sessionCookieName));
});

test("forwarding headers from an untrusted peer neither escape an exhausted budget nor spend someone else's", async () => {
  const exhausted = clientAddresses.spoofExhausted;
  const person = alice();
  const fields = await loadSignInForm(exhausted);
  for (let attempt = 1; attempt <= signInsPer15Minutes; attempt += 1) {
    const response = await postSignInForm({ from: exhausted, fields, email: `nobody-${attempt}@example.com`, password: `wrong-${attempt}` });
    expect(response.status, `attempt ${attempt}`).toBe(200);
  }
  expect((await postSignInForm({ from: exhausted, fields, email: "nobody@example.com", password: "wrong" })).status).toBe(429);

  // Claiming to be someone else from the exhausted address changes nothing.
  const disguises: Record<string, string>[] = [
    { "x-forwarded-for": "203.0.113.7" },
    { "x-forwarded-for": "203.0.113.8, 198.51.100.9" },
    { "x-client-ip": "203.0.113.10" },
    { "x-real-ip": "203.0.113.11" },
    { forwarded: "for=203.0.113.12;proto=https" },
    { "x-forwarded-for": "127.0.0.99", "x-real-ip": "127.0.0.99", "x-client-ip": "127.0.0.99" },
  ];
  for (const disguise of disguises) {
    const response = await postSignInForm({ from: exhausted, fields, email: person.email, password: person.password, headers: disguise });
    expect(response.status, `from ${exhausted} disguised with ${JSON.stringify(disguise)}`).toBe(429);
  }

  // A fresh client naming the exhausted address is judged on its own (untouched) budget.
  const fresh = clientAddresses.spoofFresh;
  const freshFields = await loadSignInForm(fresh);
  const framing = await postSignInForm({
    from: fresh,
    fields: freshFields,
    email: person.email,
    password: "wrong",
    headers: { "x-forwarded-for": exhausted, "x-client-ip": exhausted, "x-real-ip": exhausted, forwarded: `for=${exhausted}` },
  });
  expect(framing.status, "a forged address does not make the fresh client share the exhausted budget").toBe(200);
  expect(framing.body).toContain(wrongPasswordMessage);
  const signIn = await postSignInForm({
    from: fresh,
    fields: freshFields,
    email: person.email,
    password: person.password,
    headers: { "x-forwarded-for": exhausted },
  });
  expect(signIn.status).toBe(303);
  expect(locationPath(signIn), "the right password reaches the second step").toMatch(/^\/login\/second-factor\?/);
});
