import https from "node:https";
import type { IncomingHttpHeaders } from "node:http";
import { certificate, securityOrigin, securityPort } from "./environment";

/**
 * Raw HTTPS requests with exact headers and a chosen source address. Playwright's request fixture can do
 * neither: it adds headers of its own and always connects from 127.0.0.1, whose rate-limit budgets the
 * browser tests use. A socket bound to 127.0.0.1 accepts connections from any 127.0.0.0/8 source address on
 * Linux, and server.ts takes the client address from the socket, so each `from` is a separate client.
 */
export interface RawResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
  /** Milliseconds from sending the request to the end of the answer. */
  elapsedMilliseconds: number;
}

export interface RawRequestOptions {
  method?: string;
  /** Path and query exactly as they go on the request line (no normalisation, no re-encoding). */
  path: string;
  /** The source address, somewhere in 127.0.0.0/8. */
  from: string;
  headers?: Record<string, string | string[]>;
  body?: string | Buffer;
  /** Send the body with Transfer-Encoding: chunked and no Content-Length, as a streaming client does. */
  chunked?: boolean;
  /** Another instance of the app (the Redis-outage test runs its own). */
  port?: number;
  ca?: Buffer;
  timeoutMilliseconds?: number;
}

export function rawRequest(options: RawRequestOptions): Promise<RawResponse> {
  const port = options.port ?? securityPort;
  const started = performance.now();
  const body = options.body === undefined ? undefined : Buffer.from(options.body);
  return new Promise((resolve, reject) => {
    let answered = false;
    const request = https.request(
      {
        // 127.0.0.1 rather than "localhost", which may resolve to ::1 first and cannot be reached from a
        // 127.x source address; the certificate names both, and the Host header names the public origin.
        host: "127.0.0.1",
        port,
        servername: "localhost",
        ca: options.ca ?? certificate(),
        localAddress: options.from,
        method: options.method ?? "GET",
        path: options.path,
        // A fresh connection each time, so that each request really comes from its own `from` address.
        agent: false,
        headers: {
          host: `localhost:${port}`,
          ...(body === undefined || options.chunked ? {} : { "content-length": String(body.byteLength) }),
          ...options.headers,
        },
        timeout: options.timeoutMilliseconds ?? 15_000,
      },
      (response) => {
        answered = true;
        const chunks: Buffer[] = [];
        response.on("data", (chunk: Buffer) => chunks.push(chunk));
        response.on("end", () =>
          resolve({
            status: response.statusCode ?? 0,
            headers: response.headers,
            body: Buffer.concat(chunks).toString("utf8"),
            elapsedMilliseconds: performance.now() - started,
          }),
        );
        response.on("error", reject);
      },
    );
    request.on("timeout", () => request.destroy(new Error(`no answer to ${options.method ?? "GET"} ${options.path} in time`)));
    request.on("error", (error) => {
      // A server may answer a large body early and close the connection while the rest is still being sent;
      // the answer is what counts then, not the broken pipe.
      if (!answered) reject(error);
    });
    if (body !== undefined) request.write(body);
    request.end();
  });
}

/** Headers a browser sends with a same-origin form post or fetch. */
export const sameOriginHeaders = { origin: securityOrigin, "sec-fetch-site": "same-origin" } as const;

/** The headers of a response as `name: value` lines, for matching against patterns. */
export function headerLines(headers: IncomingHttpHeaders): string[] {
  return Object.entries(headers).flatMap(([name, value]) =>
    (Array.isArray(value) ? value : [value ?? ""]).map((single) => `${name}: ${single}`),
  );
}

export function headerValue(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name.toLowerCase()];
  return Array.isArray(value) ? value.join(", ") : value;
}

export interface SetCookie {
  name: string;
  value: string;
  /** Lower-cased attribute names mapped to their values ("" for flags such as HttpOnly). */
  attributes: Record<string, string>;
}

export function setCookies(headers: IncomingHttpHeaders): SetCookie[] {
  return (headers["set-cookie"] ?? []).map((line) => {
    const [pair = "", ...attributeParts] = line.split(";");
    const separator = pair.indexOf("=");
    const attributes: Record<string, string> = {};
    for (const part of attributeParts) {
      const equals = part.indexOf("=");
      const name = (equals === -1 ? part : part.slice(0, equals)).trim().toLowerCase();
      attributes[name] = equals === -1 ? "" : part.slice(equals + 1).trim();
    }
    return { name: pair.slice(0, separator).trim(), value: pair.slice(separator + 1).trim(), attributes };
  });
}

/** A cookie jar just big enough for these tests: later Set-Cookie lines win, expired ones are dropped. */
export class CookieJar {
  private readonly cookies = new Map<string, string>();

  absorb(headers: IncomingHttpHeaders): this {
    for (const cookie of setCookies(headers)) {
      const expired =
        cookie.attributes["max-age"] === "0" ||
        (cookie.attributes.expires !== undefined && Date.parse(cookie.attributes.expires) <= Date.now()) ||
        cookie.value === "";
      if (expired) this.cookies.delete(cookie.name);
      else this.cookies.set(cookie.name, cookie.value);
    }
    return this;
  }

  get(name: string): string | undefined {
    return this.cookies.get(name);
  }

  set(name: string, value: string): this {
    this.cookies.set(name, value);
    return this;
  }

  header(): string {
    return [...this.cookies].map(([name, value]) => `${name}=${value}`).join("; ");
  }
}

/** Turns a JSON body into a value, or null when it is not JSON. */
export function jsonOf(response: RawResponse): unknown {
  try {
    return JSON.parse(response.body) as unknown;
  } catch {
    return null;
  }
}
