/**
 * Request ids: one per request on the public port, so that an operator can follow one request through nginx's
 * access log, this app's log lines and a customer's support call. server.ts assigns it, passes it to the app
 * as `x-request-id`, echoes it in the response, and runs the request inside an AsyncLocalStorage context from
 * which lib/logger.ts adds it to every log line written on the request's behalf.
 *
 * No `server-only` marker: server.ts (outside Next's build) and unit tests use it directly.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import crypto from "node:crypto";
import { isTrustedProxy } from "@/lib/security/client-ip";

export const requestIdHeaderName = "x-request-id";

// Letters, digits, '-' and '_', at most 64: what nginx's $request_id (32 hex digits), UUIDs and common tracing
// ids look like, and nothing that could break a log line, a header or a log query (no spaces, quotes, CR/LF).
const requestIdPattern = /^[A-Za-z0-9_-]{1,64}$/;

export function isWellFormedRequestId(value: string): boolean {
  return requestIdPattern.test(value);
}

export interface RequestIdInput {
  /** The TCP peer, `req.socket.remoteAddress`. */
  socketAddress: string | undefined;
  /** The incoming `X-Request-Id` value(s), as Node gives them. */
  headerValue: string | string[] | undefined;
  /** The same list that decides whether X-Forwarded-For is believed. */
  trustedProxies: readonly string[];
  /** Makes a new id; crypto.randomUUID unless a test passes its own. */
  generate?: () => string;
}

/**
 * The request's id: the one a trusted proxy assigned, when the peer is a trusted proxy and sent exactly one
 * well-formed id; otherwise a new random one. Anyone else's id is ignored, so that a client cannot plant an id
 * that makes its requests look like another's in the logs, or inject text into them.
 */
export function resolveRequestId(input: RequestIdInput): string {
  const generate = input.generate ?? crypto.randomUUID;
  const offered = input.headerValue;
  if (typeof offered === "string" && isWellFormedRequestId(offered) && isTrustedProxy(input.socketAddress, input.trustedProxies)) {
    return offered;
  }
  return generate();
}

export interface RequestLogContext {
  readonly requestId: string;
}

// One storage per process, on globalThis under a registered symbol: server.ts and the app's bundles are
// separate module graphs in one process, and the logger in the app must read what server.ts stored.
const storageKey = Symbol.for("bank.requestLogContext");
const globalForRequestContext = globalThis as typeof globalThis & { [storageKey]?: AsyncLocalStorage<RequestLogContext> };

function requestContextStorage(): AsyncLocalStorage<RequestLogContext> {
  globalForRequestContext[storageKey] ??= new AsyncLocalStorage<RequestLogContext>();
  return globalForRequestContext[storageKey];
}

/** Runs `work` (and everything it starts, awaits or schedules) as part of the request with this id. */
export function runWithRequestId<Result>(requestId: string, work: () => Result): Result {
  return requestContextStorage().run({ requestId }, work);
}

/** The id of the request being served, or undefined outside a request (timers, start-up, scripts). */
export function currentRequestId(): string | undefined {
  return requestContextStorage().getStore()?.requestId;
}
