/**
 * The production entry point (`npm start`, i.e. `NODE_ENV=production tsx server.ts`, after `next build`).
 *
 * A custom server rather than `next start`, because the bank must (1) refuse to start on an incomplete
 * configuration, (2) terminate TLS itself, (3) strip Next's internal headers and work out the real client
 * address before any application code runs, and (4) answer plain HTTP with nothing but a redirect to the
 * configured origin. Output is single lines on stdout/stderr until the structured logger arrives.
 */
import { readFileSync } from "node:fs";
import http from "node:http";
import https from "node:https";
import path from "node:path";
// @next/env is a bundled CommonJS module whose named exports Node cannot detect, so it is imported whole.
import nextEnvironmentFiles from "@next/env";
import next from "next";
import { findRuntimeRoleProblems } from "./db/database-roles";
import { ConfigurationError, parseEnvironment, type Environment } from "./lib/env-schema";
import { createTrustedProxyList, isTrustedProxy, resolveClientIp } from "./lib/security/client-ip";
import { markPrefetchRequest } from "./lib/auth/request-purpose";
import { requestIdHeaderName, resolveRequestId, runWithRequestId } from "./lib/http/request-id";
import { createMetricsServer, observeRequestDuration, routeTableFromManifest } from "./lib/metrics/http-metrics";
import { sanitiseIncomingHeaders } from "./lib/security/internal-headers";
import { prepareGracefulClose, type GracefulClose } from "./lib/http/graceful-close";
import { beginShutdown, runShutdownHooks, type ShutdownHookOutcome } from "./lib/shutdown-hooks";

// A stalled client must not hold a connection open indefinitely (slowloris), so headers and the whole request
// body each get a deadline. Idle keep-alive connections are closed sooner; a load balancer in front should use
// an idle timeout shorter than this one, or it may reuse a connection at the moment this server closes it.
const headersTimeoutMilliseconds = 20_000;
const requestTimeoutMilliseconds = 60_000;
const keepAliveTimeoutMilliseconds = 10_000;
const tlsHandshakeTimeoutMilliseconds = 10_000;
// Shutdown (SIGTERM, SIGINT) is bounded in two parts: in-flight requests and Next's own background work (after())
// get the drain deadline, then each stage of the shutdown hooks (lib/shutdown-hooks.ts: stop the timers, then
// close Redis and the database) gets the hook bound. At most 9.5 + 2 × 2 = 13.5 seconds in all, inside the 15
// seconds Docker waits before it kills (docker/compose.yaml, stop_grace_period).
const shutdownDrainDeadlineMilliseconds = 9_000;
const shutdownAppCloseMinimumMilliseconds = 500;
const shutdownHookTimeoutMilliseconds = 2_000;
const shutdownBackstopMilliseconds = 14_000;

// Forwarding headers mean something only when a trusted proxy wrote them. Next fills in any that are missing
// and believes any that are present (for example X-Forwarded-Host and -Proto when it builds absolute URLs), so
// from any other peer they are removed and Next derives them from the real connection.
const forwardingHeaderNames = [
  "forwarded",
  "x-forwarded-for",
  "x-forwarded-host",
  "x-forwarded-port",
  "x-forwarded-proto",
  "x-real-ip",
] as const;

type LogLevel = "info" | "warn" | "error";

/** Writes one JSON line, so that the output can already be collected like the structured logs to come. */
function writeLogLine(level: LogLevel, message: string, details: Record<string, unknown> = {}): void {
  const line = JSON.stringify({ level, time: new Date().toISOString(), message, ...details });
  (level === "info" ? process.stdout : process.stderr).write(`${line}\n`);
}

function describeError(error: unknown): Record<string, unknown> {
  if (error instanceof Error) return { error: { name: error.name, message: error.message, stack: error.stack } };
  return { error: String(error) };
}

/** Stops the process before it listens; the message goes to stderr as written so an operator can read it. */
function refuseToStart(message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(1);
}

/**
 * Loads `.env*` files and validates the configuration. Next reads the env files only inside `next()`, which is
 * too late to refuse a bad configuration cleanly, so they are loaded here first with the same loader and mode
 * (production). Variables already present in the environment win over the files, as they do in Next.
 */
function loadConfiguration(): Environment {
  nextEnvironmentFiles.loadEnvConfig(process.cwd(), false, {
    info: (...messages: unknown[]) => process.stdout.write(`${messages.map(String).join(" ")}\n`),
    error: (...messages: unknown[]) => process.stderr.write(`${messages.map(String).join(" ")}\n`),
  });
  try {
    const environment = parseEnvironment(process.env);
    // Checking the proxy list now means a typo in TRUSTED_PROXIES stops the start instead of every request.
    createTrustedProxyList(environment.trustedProxies);
    return environment;
  } catch (error) {
    if (error instanceof ConfigurationError) refuseToStart(error.message);
    throw error;
  }
}

/**
 * In production the app must connect as the restricted runtime role (README, Database roles): a superuser, a
 * role with BYPASSRLS or CREATEROLE, or the tables' owner could switch off the append-only triggers, so the
 * server refuses to start as one. One query on one short-lived connection, once. A database that cannot be
 * reached yet is not a reason to refuse (it may start after the app, and /api/ready reports it), so that case
 * only warns, loudly, that the check was skipped.
 */
async function checkDatabaseRole(databaseUrl: string): Promise<void> {
  let problems: string[];
  try {
    problems = await findRuntimeRoleProblems(databaseUrl);
  } catch (error) {
    writeLogLine("warn", "Could not check the database role at start-up; the runtime-role check was skipped", {
      reason: error instanceof Error ? error.message : String(error),
    });
    return;
  }
  if (problems.length > 0) {
    refuseToStart(
      "DATABASE_URL must connect as the restricted runtime role (npm run db:roles creates it), but:\n" +
        problems.map((problem) => `  - ${problem}`).join("\n"),
    );
  }
}

function readTlsFile(filePath: string, description: string): Buffer {
  try {
    return readFileSync(filePath);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    return refuseToStart(
      `Cannot read the TLS ${description} at ${filePath} (${reason}). ` +
        "Running ./run.sh creates a local certificate and key; in production set TLS_CERT_PATH and TLS_KEY_PATH.",
    );
  }
}

/**
 * The redirect target for a plain-HTTP request. The origin always comes from configuration and never from the
 * Host header, so nobody can make this server redirect a victim to another site; a request target that is not
 * a path (absolute-form or `*`) is sent to the home page.
 */
function redirectLocation(appOrigin: string, requestUrl: string | undefined): string {
  const pathAndQuery = requestUrl?.startsWith("/") ? requestUrl : "/";
  return `${appOrigin}${pathAndQuery}`;
}

/** Whether a request target names /metrics (or anything below it), ignoring the query and a trailing slash. */
function isMetricsPath(requestUrl: string | undefined): boolean {
  const pathname = (requestUrl ?? "").split("?", 1)[0]?.toLowerCase() ?? "";
  return pathname === "/metrics" || pathname.startsWith("/metrics/");
}

function listen(server: http.Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
}

/**
 * Waits for `work` at most `milliseconds`; answers whether it finished in time, without failing. A failure is
 * logged and counts as not finished; work that overruns is left running (the process is about to exit).
 */
async function finishesWithin(work: Promise<unknown>, milliseconds: number, description: string): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), milliseconds);
  });
  try {
    return await Promise.race([work.then(() => true), deadline]);
  } catch (error) {
    writeLogLine("error", `Shutdown: ${description} failed`, describeError(error));
    return false;
  } finally {
    clearTimeout(timer);
  }
}

/** One line per resource the shutdown hooks closed (or could not close), named as the resource registered. */
function logShutdownHookOutcome(outcome: ShutdownHookOutcome): void {
  const details = { resource: outcome.name, stage: outcome.stage, milliseconds: outcome.durationMilliseconds };
  if (outcome.outcome === "closed") writeLogLine("info", "Shutdown: closed", details);
  else if (outcome.outcome === "timed-out") {
    writeLogLine("warn", "Shutdown: not closed within the bound; exiting without waiting for it", {
      ...details,
      boundMilliseconds: shutdownHookTimeoutMilliseconds,
    });
  } else writeLogLine("error", "Shutdown: closing failed", { ...details, ...describeError(outcome.error) });
}

/**
 * The graceful shutdown: stop accepting, let the requests already accepted finish (bounded), let Next finish
 * its background work, then run the shutdown hooks (timers first, then Redis and the database). Answers the
 * exit status: 0 when all of that finished in time; 1 when connections had to be cut or a resource did not
 * close, so that a supervisor records that this stop lost work or left something open (every case is also
 * logged). Both are exits: a shutdown never hangs.
 */
async function shutDownGracefully(
  signal: NodeJS.Signals,
  listeners: readonly GracefulClose[],
  closeApp: () => Promise<void>,
): Promise<number> {
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  beginShutdown();
  writeLogLine("info", "Shutting down", { signal });
  let graceful = true;

  const drained = await finishesWithin(
    Promise.all(listeners.map((listener) => listener.drain())),
    shutdownDrainDeadlineMilliseconds,
    "closing the listeners",
  );
  if (drained) {
    writeLogLine("info", "Shutdown: listeners closed, in-flight requests answered", { milliseconds: elapsed() });
  } else {
    graceful = false;
    writeLogLine("warn", "Connections still open after the shutdown deadline; closing them", {
      deadlineMilliseconds: shutdownDrainDeadlineMilliseconds,
    });
    for (const listener of listeners) listener.closeAllConnections();
  }

  // Next waits here for work scheduled with after() (email delivery after a request, for example).
  const appClosed = await finishesWithin(
    closeApp(),
    Math.max(shutdownDrainDeadlineMilliseconds - elapsed(), shutdownAppCloseMinimumMilliseconds),
    "closing Next",
  );
  if (!appClosed) {
    graceful = false;
    writeLogLine("warn", "Shutdown: Next's background work did not finish in time; going on without it");
  }

  const outcomes = await runShutdownHooks({
    hookTimeoutMilliseconds: shutdownHookTimeoutMilliseconds,
    onOutcome: logShutdownHookOutcome,
  });
  if (outcomes.some((outcome) => outcome.outcome !== "closed")) graceful = false;

  const exitCode = graceful ? 0 : 1;
  writeLogLine(graceful ? "info" : "warn", "Shut down", { graceful, exitCode, milliseconds: elapsed() });
  return exitCode;
}

function applyTimeouts(server: http.Server): void {
  server.headersTimeout = headersTimeoutMilliseconds;
  server.requestTimeout = requestTimeoutMilliseconds;
  server.keepAliveTimeout = keepAliveTimeoutMilliseconds;
}

async function main(): Promise<void> {
  const environment = loadConfiguration();
  if (environment.nodeEnv !== "production") {
    writeLogLine("warn", "server.ts serves a production build; start it with NODE_ENV=production (npm start)", {
      nodeEnv: environment.nodeEnv,
    });
  }
  const { appOrigin, bindAddress, httpsPort, httpPort, trustedProxies } = environment;
  if (environment.isStrictProduction && environment.databaseUrl) await checkDatabaseRole(environment.databaseUrl);

  // The certificate is read before Next starts so that a missing file fails fast with a clear message.
  const key = readTlsFile(environment.tlsKeyPath, "private key");
  const cert = readTlsFile(environment.tlsCertificatePath, "certificate");

  const app = next({ dev: false, dir: process.cwd(), hostname: "localhost", port: httpsPort });
  await app.prepare();
  const handleWithNext = app.getRequestHandler();
  // The build's route list gives the latency histogram its labels (route patterns, never raw paths).
  const routeTable = routeTableFromManifest(
    JSON.parse(readFileSync(path.join(process.cwd(), ".next", "routes-manifest.json"), "utf8")),
  );

  const httpsServer = https.createServer(
    { key, cert, minVersion: "TLSv1.2", handshakeTimeout: tlsHandshakeTimeoutMilliseconds },
    (request, response) => {
      observeRequestDuration(routeTable, request, response);
      // Decided before anything else reads the headers: a trusted proxy's well-formed id, or a new one. The app
      // reads it from the header (replacing whatever the client sent), the client gets it back, and every log
      // line written while serving this request carries it (lib/logger.ts).
      const requestId = resolveRequestId({
        socketAddress: request.socket.remoteAddress,
        headerValue: request.headers[requestIdHeaderName],
        trustedProxies,
      });
      request.headers[requestIdHeaderName] = requestId;
      response.setHeader("X-Request-Id", requestId);
      // Metrics are served only on their own listener. The public port answers /metrics with a plain 404 itself,
      // rather than letting the app redirect a signed-out caller to the sign-in page, so that a scraper aimed
      // at the wrong port fails plainly and no page can ever take that path.
      if (isMetricsPath(request.url)) {
        response.writeHead(404, { "Content-Type": "text/plain; charset=utf-8", "Content-Length": "10" });
        response.end("Not found\n");
        return;
      }
      sanitiseIncomingHeaders(request.headers);
      // Next hides its router's prefetch headers from proxy.ts; the mark lets the proxy leave the session
      // cookie alone on prefetches (a prefetch is not the customer's activity).
      markPrefetchRequest(request.headers);
      const socketAddress = request.socket.remoteAddress;
      const clientIp = resolveClientIp({
        socketAddress,
        forwardedFor: request.headers["x-forwarded-for"],
        trustedProxies,
      });
      if (!isTrustedProxy(socketAddress, trustedProxies)) {
        for (const name of forwardingHeaderNames) Reflect.deleteProperty(request.headers, name);
      }
      // The address is empty only when the socket closed before the request was handled; the header is then
      // left absent (the sanitiser removed any client-sent value) rather than filled with a made-up value.
      if (clientIp !== "") request.headers["x-client-ip"] = clientIp;
      runWithRequestId(requestId, () => handleWithNext(request, response)).catch((error: unknown) => {
        writeLogLine("error", "Unhandled error while serving a request", { requestId, ...describeError(error) });
        if (!response.headersSent) {
          response.statusCode = 500;
          response.end();
        } else {
          response.destroy();
        }
      });
    },
  );
  applyTimeouts(httpsServer);
  const httpsListener = prepareGracefulClose(httpsServer);

  const redirectServer = http.createServer((request, response) => {
    // 308 rather than 301 so that a POST stays a POST; the body is empty and the connection is not reused,
    // because nothing else is ever served over plain HTTP.
    response.writeHead(308, {
      Location: redirectLocation(appOrigin, request.url),
      "Content-Length": "0",
      Connection: "close",
    });
    response.end();
  });
  applyTimeouts(redirectServer);
  const redirectListener = prepareGracefulClose(redirectServer);

  // Prometheus metrics on a listener of their own (METRICS_PORT, 0 for none), never on the public port.
  const metricsServer =
    environment.metrics.port === 0
      ? null
      : createMetricsServer((error) => writeLogLine("error", "Could not collect the metrics", describeError(error)));
  if (metricsServer) applyTimeouts(metricsServer);
  const metricsListener = metricsServer ? prepareGracefulClose(metricsServer) : null;

  try {
    await listen(httpsServer, httpsPort, bindAddress);
    await listen(redirectServer, httpPort, bindAddress);
    if (metricsServer) await listen(metricsServer, environment.metrics.port, environment.metrics.host);
  } catch (error) {
    writeLogLine("error", "Could not listen", {
      bindAddress,
      httpsPort,
      httpPort,
      metricsHost: environment.metrics.host,
      metricsPort: environment.metrics.port,
      ...describeError(error),
    });
    process.exit(1);
  }

  let shuttingDown = false;
  const shutDown = (signal: NodeJS.Signals): void => {
    // A second signal during shutdown changes nothing; the bounds in shutDownGracefully already end it.
    if (shuttingDown) return;
    shuttingDown = true;
    // Every step of the shutdown is bounded; this only guards against a bug in the bounds themselves.
    setTimeout(() => {
      writeLogLine("error", "Shutdown did not finish within its backstop; exiting", {
        backstopMilliseconds: shutdownBackstopMilliseconds,
      });
      process.exit(1);
    }, shutdownBackstopMilliseconds).unref();
    const listeners = [httpsListener, redirectListener, ...(metricsListener ? [metricsListener] : [])];
    void shutDownGracefully(signal, listeners, () => app.close())
      .catch((error: unknown) => {
        writeLogLine("error", "Error during shutdown", describeError(error));
        return 1;
      })
      .then((exitCode) => process.exit(exitCode));
  };
  process.on("SIGTERM", shutDown);
  process.on("SIGINT", shutDown);

  const metricsNote = metricsServer ? `, metrics on ${environment.metrics.host}:${environment.metrics.port}` : "";
  process.stdout.write(
    `ready: ${appOrigin} (https on ${bindAddress}:${httpsPort}, http redirect on ${bindAddress}:${httpPort}${metricsNote})\n`,
  );
}

main().catch((error: unknown) => {
  writeLogLine("error", "The server failed to start", describeError(error));
  process.exit(1);
});
