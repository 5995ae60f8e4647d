import { expect, test } from "@playwright/test";
import { clientAddresses } from "./support/client-addresses";
import { alice, securityOrigin } from "./support/environment";
import { CookieJar, headerValue, jsonOf, rawRequest, type RawResponse, sameOriginHeaders } from "./support/raw-http";
import {
  completeSecondFactor,
  loadSignInForm,
  locationPath,
  multipartBody,
  postSignInForm,
  sessionCookieName,
  signInActionId,
  signInThroughForm,
} from "./support/sign-in";

/** What a forged request may carry: the variants a cross-site attacker (or a stripped-down client) can send. */
const forgeries: { name: string; headers: Record<string, string>; textPlain?: boolean }[] = [
  { name: "a foreign Origin", headers: { origin: "https://evil.example" } },
  { name: "no Origin at all", headers: {} },
  { name: "Sec-Fetch-Site: cross-site with the bank's own Origin", headers: { origin: securityOrigin, "sec-fetch-site": "cross-site" } },
  { name: "a text/plain body posted cross-site", headers: { origin: "https://evil.example", "sec-fetch-site": "cross-site" }, textPlain: true },
  { name: "Origin: null (sandboxed frame)", headers: { origin: "null" } },
  { name: "a look-alike Origin", headers: { origin: `${securityOrigin}.evil.example` } },
  { name: "the bank's Origin over plain HTTP", headers: { origin: securityOrigin.replace("https:", "http:") } },
  { name: "Sec-Fetch-Site: same-site (a sibling subdomain)", headers: { origin: securityOrigin, "sec-fetch-site": "same-site" } },
];

interface Endpoint {
  name: string;
  method?: string;
  path: string;
  /** The request a logged-in victim's browser would send, minus the origin headers. */
  request(): { headers: Record<string, string>; body: string; contentType: string };
}

function expectProxyRefusal(response: RawResponse, label: string): void {
  expect(response.status, label).toBe(403);
  expect(headerValue(response.headers, "content-type"), label).toMatch(/^application\/problem\+json/);
  expect(jsonOf(response), label).toMatchObject({ status: 403, code: "cross_site_request" });
  // Nothing was done: no cookie set or cleared, no site data cleared, no redirect into a signed-in page.
  expect(response.headers["set-cookie"], `${label}: no Set-Cookie`).toBeUndefined();
  expect(headerValue(response.headers, "clear-site-data"), `${label}: no Clear-Site-Data`).toBeUndefined();
  expect(headerValue(response.headers, "location"), `${label}: no redirect`).toBeUndefined();
}

test("forged cross-site writes to every state-changing endpoint are refused with 403 by the proxy and change nothing", async () => {
  const person = alice();
  // The victim: a signed-in browser with Auth.js's CSRF cookie and token.
  const victim = await signInThroughForm(person, clientAddresses.csrfVictim);
  const csrfAnswer = await rawRequest({ path: "/api/auth/csrf", from: clientAddresses.csrfVictim, headers: { cookie: victim.header() } });
  victim.absorb(csrfAnswer.headers);
  const csrfToken = (jsonOf(csrfAnswer) as { csrfToken: string }).csrfToken;
  expect(csrfToken).toBeTruthy();
  const signInFields = await loadSignInForm(clientAddresses.csrfForger);
  const actionId = signInActionId(signInFields);
  const form = (fields: Record<string, string>) => ({
    body: new URLSearchParams(fields).toString(),
    contentType: "application/x-www-form-urlencoded",
  });

  const endpoints: Endpoint[] = [
    {
      name: "the sign-in server action (POST /login with Next-Action)",
      path: "/login",
      request: () => {
        const { body, contentType } = multipartBody({ ...signInFields, email: person.email, password: person.password });
        return { headers: { "next-action": actionId }, body, contentType };
      },
    },
    {
      name: "the second-factor server action (POST /login/second-factor)",
      path: "/login/second-factor",
      request: () => ({ headers: { cookie: victim.header() }, ...form({ method: "totp", code: "123456" }) }),
    },
    { name: "sign-out (POST /logout)", path: "/logout", request: () => ({ headers: { cookie: victim.header() }, ...form({}) }) },
    {
      name: "Auth.js sign-out (POST /api/auth/signout)",
      path: "/api/auth/signout",
      request: () => ({ headers: { cookie: victim.header() }, ...form({ csrfToken }) }),
    },
    {
      name: "Auth.js credentials sign-in (POST /api/auth/callback/credentials)",
      path: "/api/auth/callback/credentials",
      request: () => ({
        headers: { cookie: victim.header() },
        ...form({ csrfToken, email: person.email, password: person.password, callbackUrl: securityOrigin }),
      }),
    },
    {
      name: "the accounts API (POST /api/v1/accounts)",
      path: "/api/v1/accounts",
      request: () => ({
        headers: { cookie: victim.header() },
        body: JSON.stringify({ kind: "savings", nickname: "forged" }),
        contentType: "application/json",
      }),
    },
    // Other write methods are writes too, whether or not a handler exists for them today.
    ...["PUT", "PATCH", "DELETE"].map((method) => ({
      name: `${method} /api/v1/accounts`,
      method,
      path: "/api/v1/accounts",
      request: () => ({ headers: { cookie: victim.header() }, body: "{}", contentType: "application/json" }),
    })),
    {
      name: "DELETE /logout",
      method: "DELETE",
      path: "/logout",
      request: () => ({ headers: { cookie: victim.header() }, body: "", contentType: "application/x-www-form-urlencoded" }),
    },
  ];

  for (const endpoint of endpoints) {
    for (const forgery of forgeries) {
      const request = endpoint.request();
      const response = await rawRequest({
        method: endpoint.method ?? "POST",
        path: endpoint.path,
        from: clientAddresses.csrfForger,
        headers: {
          ...request.headers,
          ...forgery.headers,
          accept: "*/*",
          // text/plain is what a cross-site <form enctype="text/plain"> or a no-preflight fetch can send.
          "content-type": forgery.textPlain ? "text/plain" : request.contentType,
        },
        body: forgery.textPlain ? request.body.replaceAll("&", "\r\n") : request.body,
      });
      expectProxyRefusal(response, `${endpoint.method ?? "POST"} ${endpoint.name} with ${forgery.name}`);
    }
  }

  // The victim's session survived every forged sign-out and still reads the victim's accounts.
  const after = await rawRequest({ path: "/api/v1/accounts", from: clientAddresses.csrfVictim, headers: { cookie: victim.header() } });
  expect(after.status, "the victim is still signed in").toBe(200);
  expect((jsonOf(after) as { accounts: unknown[] }).accounts.length).toBeGreaterThan(0);
});

test("the same writes sent same-origin are accepted, so the refusals above are about origin and nothing else", async () => {
  const from = clientAddresses.csrfSameOriginControl;
  const person = alice();

  // The password step through the server action's form: 303 to the second step with the ticket's cookies (not
  // yet a session); the second step's form then completes the sign-in with a session cookie.
  const fields = await loadSignInForm(from);
  const viaForm = await postSignInForm({ from, fields, email: person.email, password: person.password });
  expect(viaForm.status).toBe(303);
  expect(locationPath(viaForm)).toMatch(/^\/login\/second-factor\?/);
  const ticketJar = new CookieJar().absorb(viaForm.headers);
  expect(ticketJar.get(sessionCookieName)).toBeUndefined();
  const secondStep = await completeSecondFactor({
    jar: ticketJar,
    secondStepPath: locationPath(viaForm),
    totpSecret: person.totpSecret,
    from,
  });
  expect(secondStep.status).toBe(303);
  const formSession = new CookieJar().set(sessionCookieName, ticketJar.get(sessionCookieName) ?? "");
  expect(formSession.get(sessionCookieName)).toBeTruthy();

  // Auth.js's own credentials endpoint with its CSRF token is not refused for its origin, but it no longer
  // signs anyone in with a password: no password-only provider exists, so no session cookie comes back.
  const jar = new CookieJar();
  const csrfAnswer = await rawRequest({ path: "/api/auth/csrf", from });
  jar.absorb(csrfAnswer.headers);
  const csrfToken = (jsonOf(csrfAnswer) as { csrfToken: string }).csrfToken;
  const viaAuthJs = await rawRequest({
    method: "POST",
    path: "/api/auth/callback/credentials",
    from,
    headers: { ...sameOriginHeaders, cookie: jar.header(), "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ csrfToken, email: person.email, password: person.password, callbackUrl: securityOrigin }).toString(),
  });
  expect(viaAuthJs.status).not.toBe(403);
  expect(viaAuthJs.status).toBeLessThan(500);
  jar.absorb(viaAuthJs.headers);
  expect(jar.get(sessionCookieName), "a password alone makes no session through Auth.js").toBeUndefined();
  // A real session for the Auth.js sign-out below, made through both steps.
  jar.set(sessionCookieName, (await signInThroughForm(person, from)).get(sessionCookieName) ?? "");

  // Sign-out through /logout: 303 to /login, session cookie expired, site data cleared.
  const logout = await rawRequest({
    method: "POST",
    path: "/logout",
    from,
    headers: { ...sameOriginHeaders, cookie: formSession.header(), "content-type": "application/x-www-form-urlencoded" },
    body: "",
  });
  expect(logout.status).toBe(303);
  expect(headerValue(logout.headers, "clear-site-data")).toBe('"cache", "cookies", "storage"');
  expect(new CookieJar().set(sessionCookieName, "x").absorb(logout.headers).get(sessionCookieName), "the session cookie is expired").toBeUndefined();

  // Sign-out through Auth.js: the session cookie is expired.
  const signOut = await rawRequest({
    method: "POST",
    path: "/api/auth/signout",
    from,
    headers: { ...sameOriginHeaders, cookie: jar.header(), "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ csrfToken }).toString(),
  });
  expect(signOut.status).toBeLessThan(400);
  expect(jar.absorb(signOut.headers).get(sessionCookieName), "Auth.js expired the session cookie").toBeUndefined();

  // The accounts API is not refused for its origin (whatever it makes of the body).
  const apiWrite = await rawRequest({
    method: "POST",
    path: "/api/v1/accounts",
    from,
    headers: { ...sameOriginHeaders, cookie: jar.header(), "content-type": "application/json" },
    body: JSON.stringify({ kind: "savings", nickname: "control" }),
  });
  expect(apiWrite.status).not.toBe(403);
  expect(apiWrite.body).not.toContain("cross_site_request");
});
