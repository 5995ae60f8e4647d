import { expect } from "@playwright/test";
import { freshTotpCode } from "../../e2e/sign-in-helpers";
import type { DemoSignIn } from "./environment";
import { sessionCookieName } from "../../../lib/auth/cookie-names";
import { formFields, multipartBody } from "../../helpers/html-form";
import { CookieJar, rawRequest, type RawResponse, sameOriginHeaders } from "./raw-http";

// Re-exported for the specs, which sign in and look at forms through this module.
export { formFields, multipartBody, sessionCookieName };

/** The id of the sign-in server action, as rendered into the progressive-enhancement form of /login. */
export function signInActionId(fields: Record<string, string>): string {
  const reference = Object.entries(fields).find(([name]) => /^\$ACTION_\d+:0$/.test(name))?.[1];
  const id = reference ? (JSON.parse(reference) as { id?: string }).id : undefined;
  if (!id) throw new Error("no server action reference in the sign-in form");
  return id;
}

/** GET /login (optionally with a query) from `from`, and the fields of its sign-in form. */
export async function loadSignInForm(from: string, query = ""): Promise<Record<string, string>> {
  const page = await rawRequest({ path: `/login${query}`, from, headers: { accept: "text/html" } });
  expect(page.status, "the sign-in page answers").toBe(200);
  return formFields(page.body);
}

/**
 * Posts the sign-in form exactly as a browser without JavaScript does (the form is progressively enhanced:
 * multipart, the action reference in hidden fields). This is a real sign-in attempt through the sign-in
 * server action, counted by the sign-in rate limit of `from`. A right password answers 303 to
 * /login/second-factor with the sign-in ticket's cookies and no session cookie (sign-in has two steps); a wrong
 * password answers 200 with the page and its error message.
 */
export async function postSignInForm(options: {
  from: string;
  fields: Record<string, string>;
  email: string;
  password: string;
  headers?: Record<string, string>;
  port?: number;
  ca?: Buffer;
}): Promise<RawResponse> {
  const { body, contentType } = multipartBody({ ...options.fields, email: options.email, password: options.password });
  return rawRequest({
    method: "POST",
    path: "/login",
    from: options.from,
    port: options.port,
    ca: options.ca,
    headers: { ...sameOriginHeaders, "content-type": contentType, accept: "text/html", ...options.headers },
    body,
  });
}

export const wrongPasswordMessage = "The email or password is incorrect.";

/** Where a response redirects to, as a path with its query. */
export function locationPath(response: RawResponse): string {
  const header = response.headers.location;
  const location = Array.isArray(header) ? header[0] : header;
  if (!location) return "";
  const url = new URL(location, "https://localhost");
  return url.pathname + url.search;
}

/**
 * The second step, as a browser without JavaScript does it: GET the page the password step redirected to
 * (with the ticket's cookies), then post its form with a code computed from the person's secret. Success
 * answers 303 with the session cookie, which lands in `jar`.
 */
export async function completeSecondFactor(options: {
  jar: CookieJar;
  secondStepPath: string;
  totpSecret: string;
  from: string;
  port?: number;
  ca?: Buffer;
  headers?: Record<string, string>;
}): Promise<RawResponse> {
  const { jar, from, port, ca } = options;
  const page = await rawRequest({ path: options.secondStepPath, from, port, ca, headers: { accept: "text/html", cookie: jar.header() } });
  expect(page.status, "the second-factor page answers the ticket holder").toBe(200);
  const fields = formFields(page.body);
  const { body, contentType } = multipartBody({ ...fields, method: "totp", code: await freshTotpCode(options.totpSecret) });
  const response = await rawRequest({
    method: "POST",
    path: new URL(options.secondStepPath, "https://localhost").pathname,
    from,
    port,
    ca,
    headers: { ...sameOriginHeaders, "content-type": contentType, accept: "text/html", cookie: jar.header(), ...options.headers },
    body,
  });
  jar.absorb(response.headers);
  return response;
}

/**
 * Signs in through both steps from `from` (the password form, then the code form) and returns a jar holding the
 * session cookie. The password step alone must not yield a session cookie.
 */
export async function signInThroughForm(person: DemoSignIn, from: string): Promise<CookieJar> {
  const fields = await loadSignInForm(from);
  const response = await postSignInForm({ from, fields, email: person.email, password: person.password });
  expect(response.status, `password step of ${person.email} from ${from}`).toBe(303);
  const secondStepPath = locationPath(response);
  expect(secondStepPath, "the password step leads to the second factor").toMatch(/^\/login\/second-factor\?/);
  const jar = new CookieJar().absorb(response.headers);
  expect(jar.get(sessionCookieName), "no session cookie after the password alone").toBeUndefined();
  const completed = await completeSecondFactor({ jar, secondStepPath, totpSecret: person.totpSecret, from });
  expect(completed.status, `second step of ${person.email} from ${from}`).toBe(303);
  expect(jar.get(sessionCookieName), "a session cookie after the second factor").toBeTruthy();
  return jar;
}

interface ApiAccount {
  accountNumber: string;
}

/** The account numbers the accounts API shows the holder of `jar`. */
export async function accountNumbers(jar: CookieJar, from: string): Promise<string[]> {
  const response = await rawRequest({ path: "/api/v1/accounts", from, headers: { cookie: jar.header() } });
  expect(response.status, "the accounts API answers a signed-in customer").toBe(200);
  const numbers = (JSON.parse(response.body) as { accounts: ApiAccount[] }).accounts.map((account) => account.accountNumber);
  expect(numbers.length).toBeGreaterThan(0);
  return numbers;
}
