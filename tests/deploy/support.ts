/**
 * What the deploy test (tests/deploy/deploy.ts) needs to talk to the stack: raw HTTPS requests from a chosen
 * source address to nginx or straight to one app instance, a cookie jar, and the two-step sign-in through the
 * real forms. Free of Playwright and Vitest, since the deploy test is a plain script run by tsx.
 */
import http from "node:http";
import https from "node:https";
import type { IncomingHttpHeaders } from "node:http";
import { generate } from "otplib";
import { sessionCookieName } from "../../lib/auth/cookie-names";
import { formFields, multipartBody } from "../helpers/html-form";

export interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

export interface RequestOptions {
  port: number;
  /** The source address, somewhere in 127.0.0.0/8: Linux lets a client bind any of them, so each is a client. */
  from: string;
  method?: string;
  path: string;
  /** The Host header; the public origin's by default, as a browser sends it through nginx. */
  host?: string;
  headers?: Record<string, string>;
  body?: string;
  ca: Buffer;
  /** An agent that keeps connections (the load); by default a fresh connection for each request. */
  agent?: https.Agent;
  timeoutMilliseconds?: number;
}

export function request(options: RequestOptions): Promise<Answer> {
  const body = options.body === undefined ? undefined : Buffer.from(options.body);
  return new Promise((resolve, reject) => {
    const outgoing = https.request(
      {
        // 127.0.0.1 rather than "localhost", which may resolve to ::1 and cannot be reached from a 127.x source.
        host: "127.0.0.1",
        port: options.port,
        servername: "localhost",
        ca: options.ca,
        localAddress: options.from,
        method: options.method ?? "GET",
        path: options.path,
        agent: options.agent ?? false,
        headers: {
          host: options.host ?? `localhost:${options.port}`,
          ...(body === undefined ? {} : { "content-length": String(body.byteLength) }),
          ...options.headers,
        },
        timeout: options.timeoutMilliseconds ?? 15_000,
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on("data", (chunk: Buffer) => chunks.push(chunk));
        response.on("end", () =>
          resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks).toString("utf8") }),
        );
        response.on("error", reject);
      },
    );
    outgoing.on("timeout", () => outgoing.destroy(new Error(`no answer to ${options.method ?? "GET"} ${options.path} in time`)));
    outgoing.on("error", reject);
    if (body !== undefined) outgoing.write(body);
    outgoing.end();
  });
}

/** A plain-HTTP request (the redirect listener). */
export function plainRequest(port: number, path: string, headers: Record<string, string>): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const outgoing = http.request({ host: "127.0.0.1", port, path, headers, agent: false, timeout: 10_000 }, (response) => {
      const chunks: Buffer[] = [];
      response.on("data", (chunk: Buffer) => chunks.push(chunk));
      response.on("end", () =>
        resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks).toString("utf8") }),
      );
    });
    outgoing.on("timeout", () => outgoing.destroy(new Error("no answer on plain HTTP in time")));
    outgoing.on("error", reject);
    outgoing.end();
  });
}

export function headerValue(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name.toLowerCase()];
  return Array.isArray(value) ? value.join(", ") : value;
}

/** Later Set-Cookie lines win; expired or emptied cookies are dropped. Enough for these sign-ins. */
export class CookieJar {
  private readonly cookies = new Map<string, string>();

  absorb(headers: IncomingHttpHeaders): this {
    for (const line of headers["set-cookie"] ?? []) {
      const [pair = "", ...attributes] = line.split(";");
      const separator = pair.indexOf("=");
      const name = pair.slice(0, separator).trim();
      const value = pair.slice(separator + 1).trim();
      const expired = value === "" || attributes.some((attribute) => /^\s*max-age=0\s*$/i.test(attribute));
      if (expired) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    return this;
  }

  has(name: string): boolean {
    return this.cookies.has(name);
  }

  header(): string {
    return [...this.cookies].map(([name, value]) => `${name}=${value}`).join("; ");
  }
}

function locationPath(answer: Answer): string {
  const location = headerValue(answer.headers, "location");
  if (!location) return "";
  const url = new URL(location, "https://localhost");
  return url.pathname + url.search;
}

export interface Person {
  email: string;
  password: string;
  totpSecret: string;
}

/**
 * Signs in through both real forms (password, then the authenticator code), exactly as a browser without
 * JavaScript does: progressively enhanced server-action forms, posted as multipart. `port` is nginx's or one
 * instance's; the Host and Origin are always the public origin's, as they are behind nginx. Each person may
 * sign in once per 30 seconds here, since a code is accepted only once.
 */
export async function signIn(options: { person: Person; port: number; from: string; publicOrigin: string; ca: Buffer }): Promise<CookieJar> {
  const { person, port, from, publicOrigin, ca } = options;
  const host = new URL(publicOrigin).host;
  const sameOrigin = { origin: publicOrigin, "sec-fetch-site": "same-origin" };
  const page = await request({ port, from, host, path: "/login", headers: { accept: "text/html" }, ca });
  if (page.status !== 200) throw new Error(`GET /login answered ${page.status}`);
  const password = multipartBody({ ...formFields(page.body), email: person.email, password: person.password });
  const passwordStep = await request({
    port, from, host, ca, method: "POST", path: "/login", body: password.body,
    headers: { ...sameOrigin, "content-type": password.contentType, accept: "text/html" },
  });
  const secondStepPath = locationPath(passwordStep);
  if (passwordStep.status !== 303 || !secondStepPath.startsWith("/login/second-factor")) {
    throw new Error(`the password step answered ${passwordStep.status} (${secondStepPath || passwordStep.body.slice(0, 200)})`);
  }
  const jar = new CookieJar().absorb(passwordStep.headers);
  const codePage = await request({ port, from, host, ca, path: secondStepPath, headers: { accept: "text/html", cookie: jar.header() } });
  if (codePage.status !== 200) throw new Error(`the second-factor page answered ${codePage.status}`);
  const code = multipartBody({ ...formFields(codePage.body), method: "totp", code: await generate({ secret: person.totpSecret }) });
  const codeStep = await request({
    port, from, host, ca, method: "POST", path: new URL(secondStepPath, "https://localhost").pathname, body: code.body,
    headers: { ...sameOrigin, "content-type": code.contentType, accept: "text/html", cookie: jar.header() },
  });
  jar.absorb(codeStep.headers);
  if (codeStep.status !== 303 || !jar.has(sessionCookieName)) {
    throw new Error(`the code step answered ${codeStep.status} without a session (${codeStep.body.slice(0, 200)})`);
  }
  return jar;
}
