import { expect, test } from "@playwright/test";
import { clientAddresses } from "./support/client-addresses";
import { alice, securityOrigin } from "./support/environment";
import { expectAll, expectCleanAnswer, expectCleanRefusal } from "./support/hygiene";
import { headerValue, jsonOf, rawRequest, sameOriginHeaders } from "./support/raw-http";
import { signInThroughForm } from "./support/sign-in";

const from = clientAddresses.hygiene;
const oneMegabyte = "a".repeat(1024 * 1024);

test("malformed, mistyped and oversized bodies to route handlers and the sign-in door get an error status that reveals nothing", async () => {
  const session = await signInThroughForm(alice(), clientAddresses.hygieneSignIn);
  const signedIn = { ...sameOriginHeaders, cookie: session.header() };
  const post = (path: string, contentType: string, body: string | Buffer, headers: Record<string, string>) =>
    rawRequest({ method: "POST", path, from, headers: { ...headers, "content-type": contentType }, body });

  const probes = {
    "garbage JSON to the accounts API": await post("/api/v1/accounts", "application/json", '{"kind": savings, nickname: ]', signedIn),
    "text/plain to the accounts API": await post("/api/v1/accounts", "text/plain", "kind=savings", signedIn),
    "1 MB JSON to the accounts API": await post("/api/v1/accounts", "application/json", JSON.stringify({ nickname: oneMegabyte }), signedIn),
    "invalid UTF-8 JSON to the accounts API": await post(
      "/api/v1/accounts",
      "application/json",
      Buffer.from([0x7b, 0x22, 0xc0, 0xaf, 0x22, 0x3a, 0x31, 0x7d]),
      signedIn,
    ),
    "100 KB form to the sign-in door": await post("/login", "multipart/form-data; boundary=x", "a".repeat(100 * 1024), sameOriginHeaders),
    "malformed multipart to the sign-in door": await post("/login", "multipart/form-data; boundary=x", "--x\r\ngarbage", sameOriginHeaders),
    "malformed JSON to Auth.js": await post("/api/auth/callback/credentials", "application/json", '{"csrfToken":', sameOriginHeaders),
    "a streamed body of undeclared length": await rawRequest({
      method: "POST",
      path: "/api/v1/accounts",
      from,
      headers: { ...signedIn, "content-type": "application/json" },
      body: JSON.stringify({ nickname: "a".repeat(200 * 1024) }),
      chunked: true,
    }),
  };
  expectAll(Object.entries(probes).map(([label, response]) => [label, () => expectCleanRefusal(response, label)]));
});

test("oversized, malformed or mistyped CSP reports are refused with a 4xx, not swallowed", async () => {
  const post = (contentType: string, body: string) =>
    rawRequest({ method: "POST", path: "/api/csp-report", from, headers: { "content-type": contentType }, body });
  const probes = {
    "a 1 MB report": await post("application/csp-report", `{"csp-report":{"blocked-uri":"${oneMegabyte}"}}`),
    "a malformed JSON report": await post("application/json", '{"csp-report": {"blocked-uri": '),
    "a report of the wrong content type": await post("text/html", "<script>alert(1)</script>"),
  };
  expectAll(
    Object.entries(probes).map(([label, response]) => [
      label,
      () => {
        expectCleanRefusal(response, label);
        expect(response.status, label).toBeLessThan(500);
      },
    ]),
  );
  // A well-formed report is still accepted, so the refusals are about the body and not the endpoint.
  const report = await post(
    "application/csp-report",
    JSON.stringify({ "csp-report": { "document-uri": `${securityOrigin}/login`, "violated-directive": "script-src-elem", "blocked-uri": "inline" } }),
  );
  expect(report.status).toBeLessThan(300);
});

test("unknown routes answer 404: problem+json under /api, the bank's own not-found page elsewhere", async () => {
  const session = await signInThroughForm(alice(), clientAddresses.hygieneSignIn);
  for (const [method, path] of [
    ["GET", "/api/v1/nope"],
    ["GET", "/api/nope"],
    ["GET", "/api/v1/accounts/00000000-0000-0000-0000-000000000000/secrets"],
    ["DELETE", "/api/v1/nope"],
    ["OPTIONS", "/api/nope"],
  ] as const) {
    const response = await rawRequest({
      method,
      path,
      from,
      headers: { ...sameOriginHeaders, accept: "application/json", cookie: session.header() },
    });
    const label = `${method} ${path}`;
    expect(response.status, label).toBe(404);
    expect(headerValue(response.headers, "content-type"), label).toMatch(/^application\/problem\+json/);
    expect(jsonOf(response), label).toMatchObject({ status: 404, code: "not_found" });
    expectCleanAnswer(response, label);
  }

  const page = await rawRequest({ path: "/nope", from, headers: { accept: "text/html", cookie: session.header() } });
  expect(page.status).toBe(404);
  expect(headerValue(page.headers, "content-type")).toMatch(/^text\/html/);
  expect(page.body).toContain("Page not found");
  expectCleanAnswer(page, "GET /nope signed in");
});

test("paths with NUL bytes, overlong UTF-8 and traversal are refused without leaking anything", async () => {
  const session = await signInThroughForm(alice(), clientAddresses.hygieneSignIn);
  for (const path of [
    "/%00",
    "/login%00",
    "/%c0%af",
    "/..%c0%af..%c0%af..%c0%afetc/passwd",
    "/%2e%2e/%2e%2e/etc/passwd",
    "/api/v1/accounts%00",
    "/api/%c0%afv1/accounts",
    "/api/v1/accounts/%00",
    "/_next/static/%00",
    "/_next/static/..%c0%af..%c0%afpackage.json",
    "/%ff%fe",
  ]) {
    for (const cookie of [session.header(), ""]) {
      const response = await rawRequest({ path, from, headers: { accept: "text/html,application/json", ...(cookie ? { cookie } : {}) } });
      const label = `GET ${path} ${cookie ? "signed in" : "signed out"}`;
      if (!cookie && response.status >= 300 && response.status < 400) {
        // Signed out, the proxy sends every non-public path to the sign-in page before anything else looks at it.
        expect(new URL(headerValue(response.headers, "location") ?? "", securityOrigin).pathname, label).toBe("/login");
        expectCleanAnswer(response, label);
      } else {
        expectCleanRefusal(response, label);
      }
    }
  }
});

test("a tampered or foreign session cookie counts as signed out, never as a server error", async () => {
  const session = await signInThroughForm(alice(), clientAddresses.hygieneSignIn);
  const genuine = session.header().split("=").slice(1).join("=");
  const tampered = [
    "garbage",
    `${genuine.slice(0, -4)}AAAA`,
    genuine.split(".").reverse().join("."),
    "eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0.",
    "a".repeat(4000),
  ];
  for (const value of tampered) {
    const api = await rawRequest({ path: "/api/v1/accounts", from, headers: { cookie: `__Secure-authjs.session-token=${value}` } });
    expect(api.status, `API with a tampered cookie (${value.slice(0, 16)}…)`).toBe(401);
    expectCleanAnswer(api, "API with a tampered cookie");
    const page = await rawRequest({ path: "/", from, headers: { accept: "text/html", cookie: `__Secure-authjs.session-token=${value}` } });
    expect(page.status, "dashboard with a tampered cookie").toBeGreaterThanOrEqual(300);
    expect(page.status).toBeLessThan(400);
    expect(new URL(headerValue(page.headers, "location") ?? "", securityOrigin).pathname).toBe("/login");
    expectCleanAnswer(page, "dashboard with a tampered cookie");
  }
});

test("a call to a server action that does not exist is refused with a 4xx that says nothing about what failed", async () => {
  const checks: Parameters<typeof expectAll>[0] = [];
  for (const actionId of ["00deadbeef", "7f".padEnd(42, "0"), "../../etc/passwd"]) {
    const response = await rawRequest({
      method: "POST",
      path: "/login",
      from,
      headers: { ...sameOriginHeaders, "next-action": actionId, "content-type": "text/plain;charset=UTF-8", accept: "text/x-component" },
      body: '["$undefined"]',
    });
    checks.push([
      `Next-Action: ${actionId}`,
      () => {
        expectCleanRefusal(response, `Next-Action: ${actionId}`);
        expect(response.status, `Next-Action: ${actionId}`).toBeLessThan(500);
      },
    ]);
  }
  expectAll(checks);
});
