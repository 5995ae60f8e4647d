/**
 * The operational endpoints of the real server (issue 11), against the production build started exactly as
 * `npm start` starts it (server.ts under tsx):
 *   - metrics are served on their own loopback listener, in Prometheus' text format, and the public HTTPS port
 *     answers 404 for /metrics;
 *   - request latencies are labelled by route pattern, never by a raw path;
 *   - counters incremented in proxy.ts (a rate-limit refusal) and in a server action's data layer (a failed
 *     sign-in) reach the same registry the metrics listener serves, although Next loads them in separate
 *     module graphs;
 *   - every response carries an X-Request-Id: a trusted proxy's well-formed id, otherwise a new one.
 *
 * A standalone script rather than a Vitest project, because it needs the production build, which run.sh makes
 * after the Vitest run:
 *
 *   NODE_ENV=production npx next build      # once
 *   npx tsx --conditions=react-server tests/operations/server-endpoints.ts
 *
 * It uses its own data folder (an embedded PGlite database, migrated here), keyring, certificate and secret,
 * and ports OPERATIONS_PORT (default 8850) for HTTPS, +1 for the HTTP redirect and +2 for metrics. Exit
 * status 0 when every check held, 1 otherwise.
 */
import { type ChildProcess, execFileSync } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import http from "node:http";
import https from "node:https";
import os from "node:os";
import path from "node:path";
import {
  createCheckList,
  createSelfSignedCertificate,
  repositoryRoot,
  startBuiltServer,
  stopBuiltServer,
} from "@/tests/helpers/built-server";

const httpsPort = Number(process.env.OPERATIONS_PORT ?? 8850);
const httpPort = httpsPort + 1;
const metricsPort = httpsPort + 2;
const appOrigin = `https://localhost:${httpsPort}`;

const { check, failures } = createCheckList();

const temporaryRoot = fs.mkdtempSync(path.join(os.tmpdir(), "bank-operations-"));
const dataDirectory = path.join(temporaryRoot, "data");
const keyringPath = path.join(temporaryRoot, "keys", "keyring.json");

const serverEnvironment: NodeJS.ProcessEnv = {
  PATH: process.env.PATH,
  HOME: process.env.HOME,
  NODE_ENV: "production",
  ALLOW_EMBEDDED: "1",
  // Empty, not absent: .env.local must not point this run at a developer's database or Redis.
  DATABASE_URL: "",
  REDIS_URL: "",
  AUTH_SECRET: crypto.randomBytes(36).toString("base64url"),
  KEY_PROVIDER: "local",
  KEYRING_PATH: keyringPath,
  DATA_DIR: dataDirectory,
  PORT: String(httpsPort),
  HTTP_PORT: String(httpPort),
  METRICS_PORT: String(metricsPort),
  // The "proxy" of this test: requests sent from 127.0.0.3 come from a trusted proxy.
  TRUSTED_PROXIES: "127.0.0.3",
  APP_ORIGIN: appOrigin,
  // One CSP report an hour, so that the second is refused by proxy.ts.
  RATE_LIMIT_CSP_REPORTS_PER_HOUR: "1",
  LOG_LEVEL: "info",
};

interface HttpAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

interface RequestOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  /** The client address to connect from (any address in 127.0.0.0/8 works on Linux). */
  localAddress?: string;
  host?: string;
}

function send(transport: "https" | "http", port: number, urlPath: string, options: RequestOptions = {}): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const settings = {
      host: options.host ?? "127.0.0.1",
      port,
      method: options.method ?? "GET",
      path: urlPath,
      headers: {
        ...(options.body === undefined ? {} : { "content-length": String(Buffer.byteLength(options.body)) }),
        ...options.headers,
      },
      localAddress: options.localAddress,
      timeout: 15_000,
    };
    const onResponse = (response: http.IncomingMessage) => {
      const chunks: Buffer[] = [];
      response.on("data", (chunk: Buffer) => chunks.push(chunk));
      response.on("end", () =>
        resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks).toString("utf8") }),
      );
      response.on("error", reject);
    };
    const outgoing =
      transport === "https"
        ? https.request({ ...settings, servername: "localhost", rejectUnauthorized: false }, onResponse)
        : http.request(settings, onResponse);
    outgoing.on("timeout", () => outgoing.destroy(new Error("request timed out")));
    outgoing.on("error", reject);
    if (options.body !== undefined) outgoing.write(options.body);
    outgoing.end();
  });
}

const publicRequest = (urlPath: string, options?: RequestOptions) => send("https", httpsPort, urlPath, options);
const metricsRequest = (urlPath: string, options?: RequestOptions) => send("http", metricsPort, urlPath, options);

async function waitForHealth(child: ChildProcess): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`the server exited with ${child.exitCode} while starting`);
    try {
      if ((await publicRequest("/api/health")).status === 200) return;
    } catch {
      // Not listening yet.
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error("the server did not become healthy within 60 seconds");
}

/** The value of the first sample line of `name` whose labels include every given `label="value"` pair. */
function sampleValue(exposition: string, name: string, labels: Record<string, string>): number | null {
  for (const line of exposition.split("\n")) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (!Object.entries(labels).every(([label, value]) => line.includes(`${label}="${value}"`))) continue;
    return Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return null;
}

/** The id of the sign-in server action, read from the build (action ids change with every build). */
function signInActionId(): string {
  const manifestPath = path.join(repositoryRoot, ".next", "server", "server-reference-manifest.json");
  const manifest = JSON.parse(fs.readFileSync(manifestPath, "utf8")) as {
    node: Record<string, { filename?: string; exportedName?: string }>;
  };
  const entry = Object.entries(manifest.node).find(
    ([, action]) => action.filename === "app/(auth)/login/actions.ts" && action.exportedName === "signInWithPassword",
  );
  if (!entry) throw new Error("the build has no signInWithPassword action");
  return entry[0];
}

// The id of the request whose route handler wrote a log line (the accepted CSP report).
let loggedRequestId = "";

async function checkMetrics(): Promise<void> {
  check((await publicRequest("/metrics")).status === 404, "the public HTTPS port answers 404 for /metrics");
  check((await publicRequest("/metrics?format=prometheus")).status === 404, "... also with a query");
  check((await publicRequest("/metrics/", { headers: { accept: "text/html" } })).status === 404, "... and with a trailing slash");

  // Traffic for the labels: a page with an id in its path, and a health check.
  const accountId = crypto.randomUUID();
  await publicRequest(`/accounts/${accountId}/statements`);
  await publicRequest("/api/health");

  // A rate-limit refusal in proxy.ts: the limit is one CSP report an hour. The first one is logged by its route
  // handler, which is how checkRequestIds finds a log line written inside a request.
  const report = {
    method: "POST",
    headers: { "content-type": "application/csp-report" },
    body: JSON.stringify({ "csp-report": { "violated-directive": "script-src", "blocked-uri": "inline", "document-uri": appOrigin } }),
  };
  const accepted = await publicRequest("/api/csp-report", report);
  check(accepted.status === 204, "the first CSP report is accepted (204)");
  loggedRequestId = String(accepted.headers["x-request-id"]);
  check((await publicRequest("/api/csp-report", report)).status === 429, "the second CSP report is refused (429)");

  // A failed sign-in through the real server action: the data layer counts an unknown account.
  const signIn = await publicRequest("/login", {
    method: "POST",
    headers: {
      host: `localhost:${httpsPort}`,
      origin: appOrigin,
      "next-action": signInActionId(),
      "content-type": "text/plain;charset=UTF-8",
      accept: "text/x-component",
    },
    body: JSON.stringify([null, { email: "nobody-at-all@example.com", password: "Not-the-password-42!", redirectTo: "/" }]),
  });
  check(signIn.status === 200 && signIn.body.includes("invalid_credentials"), "the sign-in action answers invalid_credentials");

  const scrape = await metricsRequest("/metrics");
  check(scrape.status === 200, "the metrics port answers /metrics with 200");
  check(
    /^text\/plain; version=0\.0\.4/.test(String(scrape.headers["content-type"])),
    `the metrics are in Prometheus text format (content-type ${String(scrape.headers["content-type"])})`,
  );
  const body = scrape.body;
  check(body.includes("# TYPE bank_http_request_duration_seconds histogram"), "the latency histogram is exposed");
  check(
    sampleValue(body, "bank_http_request_duration_seconds_count", { route: "/api/health", method: "GET", status_class: "2xx" }) !== null,
    "latency is labelled by route: /api/health",
  );
  check(
    sampleValue(body, "bank_http_request_duration_seconds_count", { route: "/accounts/[accountId]/statements" }) !== null,
    "a path with an id is labelled by its route pattern",
  );
  check(!body.includes(accountId), "no raw id appears in the metrics");
  check(sampleValue(body, "bank_http_request_duration_seconds_count", { route: "unmatched" }) !== null, "/metrics on the public port is 'unmatched'");
  check(
    sampleValue(body, "bank_rate_limit_refusals_total", { limiter: "cspReports", result: "limited" }) === 1,
    "the refusal counted in proxy.ts is served by the metrics port",
  );
  check(
    sampleValue(body, "bank_sign_in_outcomes_total", { outcome: "unknown_account" }) === 1,
    "the failed sign-in counted in the data layer is served by the metrics port",
  );
  check(body.includes("bank_audit_unsealed_events"), "the audit sealer lag gauges are exposed");
  check(body.includes("process_cpu_seconds_total"), "the process metrics are exposed");

  check((await metricsRequest("/")).status === 404, "the metrics port answers 404 for anything but /metrics");
  check((await metricsRequest("/metrics", { method: "POST", body: "" })).status === 404, "... and for a POST");
  let refused = false;
  try {
    await metricsRequest("/metrics", { host: "127.0.0.2" });
  } catch {
    refused = true;
  }
  check(refused, "the metrics port listens on 127.0.0.1 only (127.0.0.2 is refused)");
}

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** Every JSON log line the server wrote so far. */
function logLines(output: readonly string[]): Record<string, unknown>[] {
  return output
    .join("")
    .split("\n")
    .filter((line) => line.startsWith("{"))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

async function checkRequestIds(output: readonly string[]): Promise<void> {
  const lines = logLines(output);
  const reportLine = lines.find((line) => line.cspViolation !== undefined);
  check(
    reportLine !== undefined && reportLine.requestId === loggedRequestId,
    "the route handler's log line carries the id the response was given",
  );
  const pollerLine = lines.find((line) => line.msg === "email delivery poller started");
  check(pollerLine !== undefined && pollerLine.requestId === undefined, "a line written outside any request carries no id");

  const fromProxy = "127.0.0.3";
  const generated = (await publicRequest("/api/health")).headers["x-request-id"];
  check(typeof generated === "string" && uuidPattern.test(generated), "a request without an id gets a new UUID back");
  const second = (await publicRequest("/api/health")).headers["x-request-id"];
  check(typeof second === "string" && second !== generated, "... a different one each time");

  const planted = await publicRequest("/api/health", { headers: { "x-request-id": "planted-by-a-client" } });
  check(
    typeof planted.headers["x-request-id"] === "string" && uuidPattern.test(planted.headers["x-request-id"]),
    "an id sent by a client that is not a trusted proxy is replaced",
  );

  const nginxId = "0f1e2d3c4b5a69788796a5b4c3d2e1f0";
  const trusted = await publicRequest("/api/health", { localAddress: fromProxy, headers: { "x-request-id": nginxId } });
  check(trusted.headers["x-request-id"] === nginxId, "a trusted proxy's well-formed id is kept and echoed");

  const malformed = await publicRequest("/api/health", { localAddress: fromProxy, headers: { "x-request-id": "x".repeat(65) } });
  check(
    typeof malformed.headers["x-request-id"] === "string" && uuidPattern.test(malformed.headers["x-request-id"]),
    "a trusted proxy's malformed id (65 characters) is replaced",
  );

  const metricsPath = await publicRequest("/metrics");
  check(typeof metricsPath.headers["x-request-id"] === "string", "the public /metrics 404 carries an id too");
  const page = await publicRequest("/move-money", { headers: { accept: "text/html" } });
  check(
    typeof page.headers["x-request-id"] === "string" && uuidPattern.test(page.headers["x-request-id"]),
    `a response written by proxy.ts (here a ${page.status}) carries the id`,
  );
}

async function main(): Promise<void> {
  const started = Date.now();
  const output: string[] = [];
  let server: ChildProcess | undefined;
  try {
    createSelfSignedCertificate(path.join(dataDirectory, "tls"));
    const { createKeyringFile } = await import("@/lib/crypto/keyring-format");
    await createKeyringFile(keyringPath);
    execFileSync(process.execPath, ["--import", "tsx", "--conditions=react-server", "db/migrate.ts"], {
      cwd: repositoryRoot,
      env: { ...serverEnvironment, NODE_ENV: "development" },
      stdio: ["ignore", "ignore", "inherit"],
    });
    server = startBuiltServer({ serverEnvironment }, ({ text }) => output.push(text));
    await waitForHealth(server);
    await checkMetrics();
    await checkRequestIds(output);
  } catch (error) {
    check(false, `the run itself failed: ${error instanceof Error ? error.message : String(error)}`);
  } finally {
    await stopBuiltServer(server);
    fs.rmSync(temporaryRoot, { recursive: true, force: true });
  }
  if (failures.length > 0) process.stderr.write(`server output:\n${output.join("")}\n`);
  process.stdout.write(`${failures.length === 0 ? "passed" : `${failures.length} failed`} in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
  process.exit(failures.length === 0 ? 0 : 1);
}

void main();
