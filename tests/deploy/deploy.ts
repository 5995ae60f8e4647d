/**
 * The deploy test (issues 10 and 11): the deployment's topology with the real programs, as `./run.sh stack`
 * starts it — Debian's nginx with TLS and ModSecurity/CRS, configured from docker/nginx, in front of two
 * instances of the custom server on the stack's private PostgreSQL cluster and Redis, with one SoftHSM2 token —
 * and checked through nginx:
 *
 *   - plain HTTP is answered with a redirect to the configured HTTPS origin (never to the Host header);
 *   - a session made on one instance works on the other;
 *   - the per-client API limit is one budget across both instances and nginx: the 51st call in the hour is
 *     refused whichever way it arrives, a forged X-Forwarded-For does not escape it, and another client
 *     behind the same nginx still has its own budget (so the instances believe nginx, and only nginx);
 *   - ModSecurity refuses a classic SQL injection, an XSS probe and Next's internal headers with 403, while
 *     the sign-in forms, pages and the transfer API pass;
 *   - /admin from outside ADMIN_ALLOWED_CIDRS is refused by nginx;
 *   - testssl.sh finds nothing of MEDIUM severity or above, apart from the trust and revocation of the local
 *     self-signed certificate;
 *   - one instance killed with SIGKILL during a stream of transfers: nginx carries on with the other, every
 *     acknowledged transfer is in the ledger, the ledger's invariants hold, and requests whose answer was lost
 *     move money exactly once when retried with their Idempotency-Key;
 *   - every hop is TLS and refuses plaintext: nginx's HTTPS port, each instance's port, PostgreSQL (TCP without
 *     TLS is rejected; the instances' connections are all TLS) and Redis (no plaintext port); the instances,
 *     PostgreSQL and Redis present certificates of the stack's CA, which nginx and the instances verify;
 *   - each instance serves Prometheus metrics on its own loopback port, and the public port does not;
 *   - Ctrl-C (SIGINT) stops the whole stack, PostgreSQL and Redis included.
 *
 *   NODE_ENV=production npx next build      # once (./run.sh test has built already)
 *   npx tsx --conditions=react-server tests/deploy/deploy.ts
 *
 * Ports: DEPLOY_PORT (default 8700) for nginx's HTTPS, +1 for its HTTP, +10 and +12 for the instances (each
 * with the next port for its own HTTP redirect), +20 for PostgreSQL, +21 for Redis, +22 and +23 for the
 * instances' metrics. Everything (cluster, Redis, data folder, certificates) lives in a temporary folder,
 * removed at the end. Exit status 0 when every check held.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import https from "node:https";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import net from "node:net";
import tls from "node:tls";
import { Redis } from "ioredis";
import type postgres from "postgres";
import { connectPostgres } from "../../db/postgres-connection";
import { type Answer, type CookieJar, headerValue, type Person, plainRequest, request, signIn } from "./support";

const repositoryRoot = path.resolve(import.meta.dirname, "..", "..");
const nginxPort = Number(process.env.DEPLOY_PORT ?? 8700);
const nginxHttpPort = nginxPort + 1;
const instancePorts = [nginxPort + 10, nginxPort + 12] as const;
const publicOrigin = `https://localhost:${nginxPort}`;
const publicHost = `localhost:${nginxPort}`;
const postgresPort = nginxPort + 20;
const redisPort = nginxPort + 21;
const metricsPorts = [nginxPort + 22, nginxPort + 23] as const;
const apiPerHour = 50;
// Everything in the test comes from loopback addresses of its own, apart from the admin check's allowed one.
const adminAllowedAddress = "127.0.0.1";
const outsideAdminAddress = "127.0.0.3";

const runName = `bank_deploy_${Date.now().toString(36)}_${crypto.randomBytes(2).toString("hex")}`;
const rateLimitPrefix = `bank-deploy:rate-limit`;
const temporaryRoot = fs.mkdtempSync(path.join(os.tmpdir(), "bank-deploy-"));
const dataDirectory = path.join(temporaryRoot, "data");
const stackDirectory = path.join(temporaryRoot, "stack");
const certificateAuthorityPath = path.join(stackDirectory, "ca", "ca.pem");
/** A URL to the stack's cluster as one of its roles, whose password ./run.sh stack keeps in the stack's folder. */
function stackDatabaseUrl(role: string, passwordFile: string, database: string, tlsParameters = `sslmode=verify-full&sslrootcert=${certificateAuthorityPath}`): string {
  const password = fs.readFileSync(path.join(stackDirectory, "secrets", passwordFile), "utf8").trim();
  return `postgres://${role}:${password}@127.0.0.1:${postgresPort}/${database}?${tlsParameters}`;
}

const failures: string[] = [];
function check(condition: boolean, message: string): void {
  if (!condition) failures.push(message);
  process.stdout.write(`${condition ? "ok  " : "FAIL"} ${message}\n`);
}
function log(message: string): void {
  process.stdout.write(`[deploy] ${message}\n`);
}

// A new source address for each purpose, so that no check spends another's per-client budget.
let addressCounter = 0;
function freshAddress(): string {
  addressCounter += 1;
  return `127.0.${10 + Math.floor(addressCounter / 250)}.${(addressCounter % 250) + 1}`;
}

// ---------------------------------------------------------------------------------------------------------
// The stack: ./run.sh stack, in its own process group
// ---------------------------------------------------------------------------------------------------------
function startStack(): { child: ChildProcess; ready: Promise<void>; output: () => string } {
  let output = "";
  const child = spawn("./run.sh", ["stack"], {
    cwd: repositoryRoot,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
    env: {
      ...process.env,
      DATA_DIR: dataDirectory,
      STACK_DIR: stackDirectory,
      STACK_DATABASE: runName,
      STACK_APP_PORTS: instancePorts.join(","),
      STACK_METRICS_PORTS: metricsPorts.join(","),
      STACK_POSTGRES_PORT: String(postgresPort),
      STACK_REDIS_PORT: String(redisPort),
      NGINX_HTTPS_PORT: String(nginxPort),
      NGINX_HTTP_PORT: String(nginxHttpPort),
      ADMIN_ALLOWED_CIDRS: `${adminAllowedAddress}/32`,
      RATE_LIMIT_PREFIX: rateLimitPrefix,
      // The transfer stream sends hundreds of transfers as one customer; the per-customer action budget is not
      // what this test measures (the per-client API limit stays at its real value of 50 an hour).
      RATE_LIMIT_USER_ACTIONS_PER_HOUR: "1000000",
      LOG_LEVEL: "warn",
    },
  });
  const ready = new Promise<void>((resolve, reject) => {
    const collect = (chunk: Buffer): void => {
      output += chunk.toString("utf8");
      if (output.includes("stack ready: ")) resolve();
    };
    child.stdout?.on("data", collect);
    child.stderr?.on("data", collect);
    child.once("exit", (code) => reject(new Error(`./run.sh stack exited with ${code} before it was ready:\n${output.slice(-3000)}`)));
  });
  return { child, ready, output: () => output };
}

function exited(child: ChildProcess): Promise<void> {
  return child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve()
    : new Promise((resolve) => child.once("exit", () => resolve()));
}

function processIsAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // A process that has exited but not yet been reaped by its parent (PostgreSQL's postmaster, once pg_ctl's
  // shell is gone, is reaped by init some moments later) still answers signal 0; it is not running any more.
  try {
    const status = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    return status.slice(status.lastIndexOf(")") + 2, status.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

function readPid(name: string): number {
  // The first line: PostgreSQL's postmaster.pid holds more lines after the pid.
  return Number(fs.readFileSync(path.join(stackDirectory, name), "utf8").split("\n", 1)[0]?.trim());
}

// ---------------------------------------------------------------------------------------------------------
// The checks
// ---------------------------------------------------------------------------------------------------------
// nginx presents run.sh's localhost certificate to browsers; the instances present certificates of the stack's
// own CA (which is what nginx verifies them against).
let ca = Buffer.alloc(0);
let internalCa = Buffer.alloc(0);
const viaNginx = (options: Omit<Parameters<typeof request>[0], "port" | "ca" | "host">): Promise<Answer> =>
  request({ ...options, port: nginxPort, host: publicHost, ca });
const viaInstance = (index: 0 | 1, options: Omit<Parameters<typeof request>[0], "port" | "ca" | "host">): Promise<Answer> =>
  request({ ...options, port: instancePorts[index], host: publicHost, ca: internalCa });

/** Whether nginx itself refused (its own error page), rather than the app answering with the same status. */
function refusedByNginx(answer: Answer, status: number): boolean {
  return answer.status === status && answer.body.includes("<center>nginx</center>");
}

async function checkRedirect(): Promise<void> {
  const answer = await plainRequest(nginxHttpPort, "/accounts?tab=recent", { host: "evil.example" });
  check(
    answer.status === 308 && headerValue(answer.headers, "location") === `${publicOrigin}/accounts?tab=recent`,
    `plain HTTP is answered 308 to the configured origin, whatever the Host header (${answer.status} ${headerValue(answer.headers, "location")})`,
  );
  const secure = await viaNginx({ from: freshAddress(), path: "/login" });
  check(
    headerValue(secure.headers, "strict-transport-security") === "max-age=31536000; includeSubDomains; preload",
    `HTTPS answers carry one HSTS header with preload (${headerValue(secure.headers, "strict-transport-security")})`,
  );
}

async function checkSessionAcrossInstances(alice: Person): Promise<CookieJar> {
  const from = freshAddress();
  const jar = await signIn({ person: alice, port: instancePorts[0], from, publicOrigin, ca: internalCa });
  check(true, "alice signed in through both forms on instance 1 directly");
  const headers = { cookie: jar.header(), accept: "application/json" };
  const onFirst = await viaInstance(0, { from, path: "/api/v1/whoami", headers });
  const onSecond = await viaInstance(1, { from, path: "/api/v1/whoami", headers });
  const userId = (answer: Answer): string => (answer.status === 200 ? (JSON.parse(answer.body) as { userId: string }).userId : "");
  check(onSecond.status === 200 && userId(onSecond) !== "" && userId(onSecond) === userId(onFirst), `the session made on instance 1 works on instance 2, as the same customer (${onSecond.status})`);
  const pageOnSecond = await viaInstance(1, { from, path: "/", headers: { cookie: jar.header(), accept: "text/html" } });
  check(pageOnSecond.status === 200, `and opens a page there, not the sign-in (${pageOnSecond.status} ${headerValue(pageOnSecond.headers, "location") ?? ""})`);
  const throughNginx = await viaNginx({ from, path: "/api/v1/whoami", headers });
  check(throughNginx.status === 200, `and works through nginx (${throughNginx.status})`);
  return jar;
}

async function checkSignInThroughFirewall(bob: Person): Promise<void> {
  const from = freshAddress();
  try {
    const jar = await signIn({ person: bob, port: nginxPort, from, publicOrigin, ca });
    const pages = ["/", "/move-money", "/payees", "/history", "/profile", "/security"];
    const statuses = await Promise.all(
      pages.map(async (page) => (await viaNginx({ from, path: page, headers: { cookie: jar.header(), accept: "text/html" } })).status),
    );
    check(statuses.every((status) => status === 200), `bob signs in through nginx and ModSecurity and opens his pages (${pages.map((page, index) => `${page} ${statuses[index]}`).join(", ")})`);
  } catch (error) {
    check(false, `bob signs in through nginx and ModSecurity: ${error instanceof Error ? error.message : String(error)}`);
  }
}

async function checkSharedApiBudget(jar: CookieJar): Promise<void> {
  const client = freshAddress();
  const headers = { cookie: jar.header(), accept: "application/json" };
  // 20 calls straight to instance 1, 20 straight to instance 2 and 10 through nginx: one client, one budget.
  const ways: { name: string; call: () => Promise<Answer> }[] = [
    ...Array.from({ length: 20 }, () => ({ name: "instance 1", call: () => viaInstance(0, { from: client, path: "/api/v1/accounts", headers }) })),
    ...Array.from({ length: 20 }, () => ({ name: "instance 2", call: () => viaInstance(1, { from: client, path: "/api/v1/accounts", headers }) })),
    ...Array.from({ length: 10 }, () => ({ name: "nginx", call: () => viaNginx({ from: client, path: "/api/v1/accounts", headers }) })),
  ];
  const remaining: string[] = [];
  let allAnswered = true;
  for (const way of ways) {
    const answer = await way.call();
    if (answer.status !== 200) allAnswered = false;
    remaining.push(headerValue(answer.headers, "ratelimit-remaining") ?? "?");
  }
  const expected = Array.from({ length: apiPerHour }, (_, index) => String(apiPerHour - 1 - index));
  check(allAnswered && remaining.join(",") === expected.join(","), `${apiPerHour} API calls of one client spread over both instances and nginx count down one budget (remaining: ${remaining.slice(-3).join(",")})`);

  const refusals = await Promise.all([
    viaInstance(0, { from: client, path: "/api/v1/accounts", headers }),
    viaInstance(1, { from: client, path: "/api/v1/accounts", headers }),
    viaNginx({ from: client, path: "/api/v1/accounts", headers }),
    viaNginx({ from: client, path: "/api/v1/accounts", headers: { ...headers, "x-forwarded-for": "203.0.113.9", "x-real-ip": "203.0.113.9", forwarded: "for=203.0.113.9" } }),
  ]);
  check(refusals.every((answer) => answer.status === 429), `the ${apiPerHour + 1}st call is refused 429 on instance 1, on instance 2, through nginx, and through nginx with a forged X-Forwarded-For (${refusals.map((answer) => answer.status).join(",")})`);

  const neighbour = await viaNginx({ from: freshAddress(), path: "/api/v1/accounts", headers });
  check(
    neighbour.status === 200 && headerValue(neighbour.headers, "ratelimit-remaining") === String(apiPerHour - 1),
    `another client behind the same nginx has its own budget (${neighbour.status}, remaining ${headerValue(neighbour.headers, "ratelimit-remaining")}): the instances take the client from nginx's X-Forwarded-For`,
  );
}

async function checkFirewall(jar: CookieJar, transfersBefore: () => Promise<number>): Promise<void> {
  const from = freshAddress();
  const sqlInjection = await viaNginx({ from, path: "/api/v1/accounts?sort=1%27%20OR%20%271%27%3D%271", headers: { cookie: jar.header() } });
  check(refusedByNginx(sqlInjection, 403), `ModSecurity refuses a classic SQL injection in the query with 403 (${sqlInjection.status})`);
  const xss = await viaNginx({ from, path: "/login?next=%3Cscript%3Ealert(document.cookie)%3C%2Fscript%3E" });
  check(refusedByNginx(xss, 403), `ModSecurity refuses an XSS probe with 403 (${xss.status})`);
  const countBefore = await transfersBefore();
  const injectedBody = JSON.stringify({ fromAccountId: "1' UNION SELECT password FROM users--", to: { kind: "own_account", accountId: "x" }, amount: "1.00" });
  const injectedTransfer = await viaNginx({
    from, method: "POST", path: "/api/v1/transfers", body: injectedBody,
    headers: { cookie: jar.header(), origin: publicOrigin, "content-type": "application/json", "idempotency-key": `deploy-${crypto.randomUUID()}` },
  });
  check(refusedByNginx(injectedTransfer, 403) && (await transfersBefore()) === countBefore, `ModSecurity refuses an SQL injection in a JSON transfer body with 403, and no transfer is written (${injectedTransfer.status})`);
  // The one rule exclusion (docker/nginx/modsecurity/exclusions-after-crs.conf): the app's credential cookies are
  // random text the CRS would match by chance, so they are not inspected; the app refuses a forged one itself.
  const forgedSession = await viaNginx({ from, path: "/api/v1/accounts", headers: { cookie: "__Secure-authjs.session-token=eyJ.nsr/etc/passwd' OR '1'='1" } });
  check(forgedSession.status === 401, `a session cookie the CRS would match passes the firewall and is refused by the app itself (${forgedSession.status})`);
  const otherCookie = await viaNginx({ from, path: "/api/v1/accounts", headers: { cookie: "preferences=../../etc/passwd" } });
  check(refusedByNginx(otherCookie, 403), `any other cookie is still inspected: a path traversal in one is refused with 403 (${otherCookie.status})`);
  const internalHeader = await viaNginx({ from, path: "/accounts", headers: { cookie: jar.header(), "x-middleware-subrequest": "middleware:middleware:middleware:middleware:middleware" } });
  check(refusedByNginx(internalHeader, 403), `a request with x-middleware-subrequest is refused by the front (${internalHeader.status})`);
  const nextData = await viaNginx({ from, path: "/accounts", headers: { "x-nextjs-data": "1" } });
  check(refusedByNginx(nextData, 403), `so is one with another internal Next header, x-nextjs-data (${nextData.status})`);
}

async function checkAdminNetworks(): Promise<void> {
  const outside = await Promise.all(
    ["/admin", "/admin/customers", "/%61dmin", "//admin/staff"].map((adminPath) => viaNginx({ from: outsideAdminAddress, path: adminPath })),
  );
  check(outside.every((answer) => refusedByNginx(answer, 403)), `/admin from ${outsideAdminAddress}, outside ADMIN_ALLOWED_CIDRS, is refused 403 by nginx in any spelling (${outside.map((answer) => answer.status).join(",")})`);
  const inside = await viaNginx({ from: adminAllowedAddress, path: "/admin" });
  check(!refusedByNginx(inside, 403), `/admin from ${adminAllowedAddress} reaches the app, which decides for itself (${inside.status})`);
}

async function checkTls(): Promise<void> {
  const jsonFile = path.join(temporaryRoot, "testssl.json");
  const started = Date.now();
  try {
    // Protocols, server defaults, standard cipher groups, forward secrecy, vulnerabilities and headers: the
    // checks that matter for this front, in well under a minute (no per-protocol cipher enumeration or client
    // simulation).
    await promisify(execFile)(
      "testssl",
      ["--quiet", "--warnings", "off", "--color", "0", "--jsonfile", jsonFile, "--protocols", "--server-defaults", "--std",
        "--fs", "--vulnerable", "--headers", "--ip", "127.0.0.1", `${publicOrigin}/`],
      { timeout: 150_000, maxBuffer: 16 * 1024 * 1024 },
    );
  } catch (error) {
    // testssl.sh exits non-zero when it finds problems; the JSON file is what is judged.
    if (!fs.existsSync(jsonFile)) throw error;
  }
  const findings = JSON.parse(fs.readFileSync(jsonFile, "utf8")) as { id: string; severity: string; finding: string }[];
  // The local certificate is self-signed: it has no chain of trust and no CRL or OCSP address. Those findings
  // are about the certificate's issuer, not about the front, and the issue names them as the exceptions.
  const certificateTrust = new Set(["cert_chain_of_trust", "cert_revocation"]);
  const serious = findings.filter((finding) => ["MEDIUM", "HIGH", "CRITICAL", "FATAL"].includes(finding.severity) && !certificateTrust.has(finding.id));
  check(
    findings.length > 20 && serious.length === 0,
    `testssl.sh (${Math.round((Date.now() - started) / 1000)} s, ${findings.length} findings) reports nothing of MEDIUM or above beyond the local certificate's trust and revocation${serious.length ? `: ${serious.map((finding) => `${finding.severity} ${finding.id} ${finding.finding}`).join("; ")}` : ""}`,
  );
  const offered = (id: string): string => findings.find((finding) => finding.id === id)?.finding ?? "?";
  check(
    /not offered/.test(offered("TLS1")) && /not offered/.test(offered("TLS1_1")) && /^offered/.test(offered("TLS1_2")) && /^offered/.test(offered("TLS1_3")),
    `only TLS 1.2 and 1.3 are offered (TLS1: ${offered("TLS1")}, TLS1_1: ${offered("TLS1_1")}, TLS1_2: ${offered("TLS1_2")}, TLS1_3: ${offered("TLS1_3")})`,
  );
}

// ---------------------------------------------------------------------------------------------------------
// TLS on every hop (issue 11): each listener refuses plaintext, and each server's certificate comes from the CA
// that its clients verify against
// ---------------------------------------------------------------------------------------------------------
/** Sends bytes over plain TCP and collects whatever comes back until the peer closes or a second passes. */
function plainExchange(port: number, payload: string): Promise<string> {
  return new Promise((resolve) => {
    let received = "";
    const socket = net.connect({ host: "127.0.0.1", port }, () => socket.write(payload));
    const finish = (): void => {
      socket.destroy();
      resolve(received);
    };
    socket.setTimeout(1_000, finish);
    socket.on("data", (chunk: Buffer) => {
      received += chunk.toString("latin1");
    });
    socket.on("close", finish);
    socket.on("error", finish);
  });
}

/** Sends bytes over TLS (verified against the stack's CA) and collects the first answer, or the error. */
function tlsExchange(port: number, payload: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = tls.connect({ host: "127.0.0.1", port, servername: "localhost", ca: internalCa }, () => socket.write(payload));
    socket.setTimeout(5_000, () => {
      socket.destroy();
      resolve("no answer in time");
    });
    socket.once("data", (chunk: Buffer) => {
      socket.destroy();
      resolve(chunk.toString("latin1"));
    });
    socket.on("error", (error) => resolve(error.message));
  });
}

/** Whether a TLS server on the port presents a certificate that verifies, for `localhost`, against `authority`. */
function certificateVerifies(port: number, authority: Buffer): Promise<{ verified: boolean; reason: string }> {
  return new Promise((resolve) => {
    const socket = tls.connect({ host: "127.0.0.1", port, servername: "localhost", ca: authority, rejectUnauthorized: false }, () => {
      const error = socket.authorizationError;
      // checkServerIdentity is Node's own host-name check, which rejectUnauthorized: false skips.
      const nameProblem = tls.checkServerIdentity("localhost", socket.getPeerCertificate());
      socket.destroy();
      resolve({ verified: socket.authorized && nameProblem === undefined, reason: String(error ?? nameProblem?.message ?? "verified") });
    });
    socket.setTimeout(5_000, () => {
      socket.destroy();
      resolve({ verified: false, reason: "no TLS handshake in time" });
    });
    socket.on("error", (error) => resolve({ verified: false, reason: error.message }));
  });
}

async function connectionRefused(url: string): Promise<string> {
  const sql = connectPostgres(url, { max: 1, connect_timeout: 5 });
  try {
    await sql`select 1`;
    return "connected";
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  } finally {
    await sql.end({ timeout: 1 }).catch(() => undefined);
  }
}

async function checkEveryHopEncrypted(sql: postgres.Sql): Promise<void> {
  // Browser -> nginx: the HTTPS port answers plain HTTP with nginx's own refusal, never with the bank's pages.
  const plainToNginx = await plainRequest(nginxPort, "/accounts", { host: publicHost });
  check(plainToNginx.status === 400 && !plainToNginx.body.includes("Bank"), `nginx's HTTPS port refuses plain HTTP (${plainToNginx.status})`);

  // nginx -> instances: plain HTTP to an instance's port gets no HTTP answer at all; the instances' certificate
  // comes from the stack's CA (what nginx's proxy_ssl_trusted_certificate names), not from the public one.
  for (const [index, port] of instancePorts.entries()) {
    const answer = await plainExchange(port, `GET /api/health HTTP/1.1\r\nHost: localhost\r\n\r\n`);
    check(!answer.startsWith("HTTP/"), `instance ${index + 1}'s port refuses plain HTTP (${answer === "" ? "closed" : JSON.stringify(answer.slice(0, 20))})`);
    const internal = await certificateVerifies(port, internalCa);
    const publicOnly = await certificateVerifies(port, ca);
    check(internal.verified && !publicOnly.verified, `instance ${index + 1}'s certificate verifies against the stack's CA only (${internal.reason}; against the public certificate: ${publicOnly.reason})`);
  }
  const proxySettings = fs.readFileSync(path.join(stackDirectory, "nginx", "proxy.conf"), "utf8");
  check(
    /^proxy_ssl_verify on;$/m.test(proxySettings) && proxySettings.includes(`proxy_ssl_trusted_certificate ${certificateAuthorityPath};`),
    "nginx verifies the instances against the stack's CA (proxy_ssl_verify on, proxy_ssl_trusted_certificate)",
  );

  // Instances -> PostgreSQL: TCP without TLS is rejected by pg_hba before any password is asked for; TLS to a
  // server whose certificate does not come from the expected CA is refused by the client; the instances' own
  // connections are all encrypted.
  const withoutTls = await connectionRefused(stackDatabaseUrl(`${runName}_app`, "runtime-password", runName, "sslmode=disable"));
  check(/no encryption/.test(withoutTls), `PostgreSQL refuses a connection without TLS (${withoutTls})`);
  const wrongAuthority = await connectionRefused(
    stackDatabaseUrl(`${runName}_app`, "runtime-password", runName, `sslmode=verify-full&sslrootcert=${path.join(dataDirectory, "tls", "cert.pem")}`),
  );
  check(/certificate|self.signed|verify/i.test(wrongAuthority), `a client refuses PostgreSQL's certificate when it expects another CA (${wrongAuthority})`);
  const connections = await sql<{ encrypted: number; plaintext: number }[]>`
    select count(*) filter (where s.ssl)::int as encrypted, count(*) filter (where not s.ssl)::int as plaintext
    from pg_stat_activity a join pg_stat_ssl s using (pid)
    where a.usename = ${`${runName}_app`}`;
  const [counts] = connections;
  check(counts !== undefined && counts.encrypted > 0 && counts.plaintext === 0, `the instances' connections to PostgreSQL are all TLS (${counts?.encrypted ?? 0} encrypted, ${counts?.plaintext ?? 0} plaintext)`);

  // Instances -> Redis: no plaintext listener (the TLS port does not speak RESP in the clear); over TLS, the
  // certificate verifies against the stack's CA, a client without the password is refused, and the instances'
  // rate-limit counters are there.
  const plainPing = await plainExchange(redisPort, "PING\r\n");
  check(!plainPing.includes("PONG"), `Redis refuses a plaintext PING (${plainPing === "" ? "closed" : JSON.stringify(plainPing.slice(0, 20))})`);
  const redisCertificate = await certificateVerifies(redisPort, internalCa);
  check(redisCertificate.verified, `Redis's certificate verifies against the stack's CA (${redisCertificate.reason})`);
  const redisPassword = fs.readFileSync(path.join(stackDirectory, "secrets", "redis-password"), "utf8").trim();
  const tlsOptions = { servername: "localhost", ca: internalCa, rejectUnauthorized: true };
  const anonymousAnswer = await tlsExchange(redisPort, "PING\r\n");
  check(/^-NOAUTH/.test(anonymousAnswer), `Redis over TLS refuses a client without the password (${anonymousAnswer.trim()})`);
  const redis = new Redis({ host: "127.0.0.1", port: redisPort, password: redisPassword, tls: tlsOptions, lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    const plaintextPort = await redis.config("GET", "port");
    const [, keys] = await redis.scan("0", "MATCH", `${rateLimitPrefix}*`, "COUNT", 10_000);
    check(String((plaintextPort as string[])[1]) === "0" && keys.length > 0, `Redis has no plaintext port (port ${String((plaintextPort as string[])[1])}) and holds the instances' limits (${keys.length} keys)`);
  } finally {
    redis.disconnect();
  }
}

async function checkMetrics(): Promise<void> {
  for (const [index, port] of metricsPorts.entries()) {
    const answer = await plainRequest(port, "/metrics", {});
    check(answer.status === 200 && /^bank_http_request_duration_seconds_bucket/m.test(answer.body), `instance ${index + 1} serves Prometheus metrics on 127.0.0.1:${port} (${answer.status})`);
  }
  const publicMetrics = await viaNginx({ from: freshAddress(), path: "/metrics" });
  check(publicMetrics.status === 404, `the public origin has no /metrics (${publicMetrics.status})`);
}

// ---------------------------------------------------------------------------------------------------------
// One instance killed during a stream of transfers
// ---------------------------------------------------------------------------------------------------------
interface SentTransfer {
  key: string;
  body: string;
  amountMinor: bigint;
}

async function checkInstanceKilledUnderLoad(sql: postgres.Sql, jar: CookieJar): Promise<void> {
  const accountsAnswer = await viaNginx({ from: freshAddress(), path: "/api/v1/accounts", headers: { cookie: jar.header() } });
  const accounts = (JSON.parse(accountsAnswer.body) as { accounts: { id: string; currency: string }[] }).accounts;
  const [first, second] = accounts;
  if (!first || !second) throw new Error("alice has fewer than two accounts");
  const transferBody = (fromAccountId: string, toAccountId: string, amountMinor: bigint): string =>
    JSON.stringify({ fromAccountId, to: { kind: "own_account", accountId: toAccountId }, amount: `${amountMinor / 100n}.${(amountMinor % 100n).toString().padStart(2, "0")}` });

  // Connections to nginx are kept per source address; each client moves to a new address before it spends its
  // hourly API budget (the real 50), so the stream is never throttled by the limit the other check measures.
  const agent = new https.Agent({ keepAlive: true, maxSockets: 64 });
  const post = (sent: SentTransfer, from: string): Promise<Answer> =>
    request({
      port: nginxPort, host: publicHost, ca, agent, from, method: "POST", path: "/api/v1/transfers", body: sent.body,
      headers: { cookie: jar.header(), origin: publicOrigin, "content-type": "application/json", "idempotency-key": sent.key },
    });

  const victimPid = readPid("app-1.pid");
  const survivorPid = readPid("app-2.pid");
  const sentByKey = new Map<string, SentTransfer>();
  const acknowledgedByKey = new Map<string, string>();
  const unanswered: SentTransfer[] = [];
  const otherAnswers: string[] = [];
  let killedAt = 0;
  let acknowledgedAfterKill = 0;
  const clients = 6;
  const killAfterAcknowledged = 120;
  const loadAfterKillMilliseconds = 6_000;
  const loadDeadline = Date.now() + 45_000;

  async function client(): Promise<void> {
    let from = freshAddress();
    let callsFromAddress = 0;
    while (Date.now() < loadDeadline && (killedAt === 0 || Date.now() - killedAt < loadAfterKillMilliseconds)) {
      if (callsFromAddress >= apiPerHour - 5) {
        from = freshAddress();
        callsFromAddress = 0;
      }
      callsFromAddress += 1;
      const forwards = crypto.randomInt(2) === 0;
      const amountMinor = BigInt(crypto.randomInt(1, 500));
      const sent: SentTransfer = {
        key: `deploy-${crypto.randomUUID()}`,
        amountMinor,
        body: forwards ? transferBody(first?.id ?? "", second?.id ?? "", amountMinor) : transferBody(second?.id ?? "", first?.id ?? "", amountMinor),
      };
      sentByKey.set(sent.key, sent);
      try {
        const answer = await post(sent, from);
        if (answer.status === 201 || answer.status === 202) {
          acknowledgedByKey.set(sent.key, (JSON.parse(answer.body) as { transfer: { id: string } }).transfer.id);
          if (killedAt !== 0) acknowledgedAfterKill += 1;
          if (killedAt === 0 && acknowledgedByKey.size >= killAfterAcknowledged) {
            killedAt = Date.now();
            process.kill(victimPid, "SIGKILL");
            log(`SIGKILL sent to instance 1 (pid ${victimPid}) after ${acknowledgedByKey.size} acknowledged transfers, requests in flight`);
          }
        } else {
          unanswered.push(sent);
          otherAnswers.push(`${answer.status}${killedAt === 0 ? " before the kill" : ""}`);
        }
      } catch {
        unanswered.push(sent);
        otherAnswers.push(`no answer${killedAt === 0 ? " before the kill" : ""}`);
      }
    }
  }
  await Promise.all(Array.from({ length: clients }, () => client()));
  agent.destroy();

  check(killedAt !== 0 && !processIsAlive(victimPid), `instance 1 was killed with SIGKILL during the stream (${acknowledgedByKey.size} transfers acknowledged in all)`);
  check(processIsAlive(survivorPid), "instance 2 is still running");
  check(acknowledgedAfterKill >= 20, `nginx carried on with instance 2: ${acknowledgedAfterKill} transfers acknowledged in the ${loadAfterKillMilliseconds / 1000} s after the kill`);
  check(!otherAnswers.some((answer) => answer.endsWith("before the kill")), `no failed answer before the kill (${otherAnswers.filter((answer) => answer.endsWith("before the kill")).slice(0, 3).join("; ") || "none"})`);
  log(`${unanswered.length} requests without a success answer around the kill: ${[...new Set(otherAnswers)].join(", ") || "none"}`);

  const acknowledgedIds = [...acknowledgedByKey.values()];
  const rows = await sql<{ id: string; status: string; idempotency_key: string; entries: string; entry_sum: string; amount_minor: string }[]>`
    select t.id, t.status, t.idempotency_key, count(e.id)::text as entries,
           coalesce(sum(e.amount_minor), 0)::text as entry_sum, t.amount_minor::text as amount_minor
    from transfers t left join ledger_entries e on e.transfer_id = t.id
    where t.id = any(${acknowledgedIds}::uuid[]) group by t.id`;
  check(rows.length === acknowledgedIds.length, `every acknowledged transfer is in the ledger (${rows.length} of ${acknowledgedIds.length})`);
  const wrong = rows.filter((row) => {
    const sent = sentByKey.get(row.idempotency_key);
    return row.status !== "posted" || row.entries !== "2" || row.entry_sum !== "0" || sent === undefined || BigInt(row.amount_minor) !== sent.amountMinor;
  });
  check(wrong.length === 0, `each is posted with two entries summing to zero, with the amount that was sent (${wrong.length} not)`);
  await checkInvariants(sql, "after the kill");

  // A request whose answer was lost may or may not have committed; retried with its key, it moves money once.
  const retryProblems: string[] = [];
  const retryAgent = new https.Agent({ keepAlive: true });
  const retryFrom = freshAddress();
  for (const sent of unanswered.slice(0, 20)) {
    const retried = await request({
      port: nginxPort, host: publicHost, ca, agent: retryAgent, from: retryFrom, method: "POST", path: "/api/v1/transfers", body: sent.body,
      headers: { cookie: jar.header(), origin: publicOrigin, "content-type": "application/json", "idempotency-key": sent.key },
    });
    if (retried.status !== 201 && retried.status !== 202) retryProblems.push(`${sent.key}: ${retried.status}`);
  }
  retryAgent.destroy();
  const retriedKeys = unanswered.slice(0, 20).map((sent) => sent.key);
  const perKey = await sql<{ transfers: string }[]>`
    select count(*)::text as transfers from transfers where idempotency_key = any(${retriedKeys}::text[]) group by idempotency_key`;
  check(
    retryProblems.length === 0 && perKey.length === retriedKeys.length && perKey.every((row) => row.transfers === "1"),
    `the ${retriedKeys.length} requests without an answer, retried with their keys, each made exactly one transfer (${retryProblems.slice(0, 3).join("; ") || "no problems"})`,
  );
  await checkInvariants(sql, "after the retries");
}

async function checkInvariants(sql: postgres.Sql, when: string): Promise<void> {
  const [total] = await sql<{ sum: string }[]>`select coalesce(sum(amount_minor), 0)::text as sum from ledger_entries`;
  const unbalanced = await sql`select transfer_id from ledger_entries group by transfer_id having sum(amount_minor) <> 0`;
  const mismatched = await sql`
    select a.id from accounts a left join ledger_entries e on e.account_id = a.id
    group by a.id, a.balance_minor having a.balance_minor <> coalesce(sum(e.amount_minor), 0)`;
  const [negative] = await sql<{ count: string }[]>`
    select count(*)::text as count from accounts
    where kind <> 'system' and (balance_minor < 0 or available_minor < 0 or available_minor > balance_minor)`;
  check(
    total?.sum === "0" && unbalanced.length === 0 && mismatched.length === 0 && negative?.count === "0",
    `${when}: all entries sum to zero (${total?.sum}), every transfer balances (${unbalanced.length} do not), every balance equals its entries (${mismatched.length} do not), no customer account is negative (${negative?.count})`,
  );
}

// ---------------------------------------------------------------------------------------------------------
// Clean-up: the stack, the database and its roles, the Redis keys, the folder
// ---------------------------------------------------------------------------------------------------------
async function stopStack(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const pids = new Map(
    ["app-1.pid", "app-2.pid", "nginx.pid", "redis.pid", "postgres/data/postmaster.pid"]
      .filter((name) => fs.existsSync(path.join(stackDirectory, name)))
      .map((name) => [readPid(name), name] as const),
  );
  const stopStarted = Date.now();
  // SIGINT to run.sh alone, as Ctrl-C would (the terminal would also signal its children; run.sh must not rely on that).
  child.kill("SIGINT");
  const stopped = await Promise.race([exited(child).then(() => true), new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 20_000))]);
  await new Promise((resolve) => setTimeout(resolve, 300));
  const survivors = [...pids.keys()].filter(processIsAlive);
  check(
    stopped && survivors.length === 0,
    `SIGINT stops ./run.sh stack with nginx, both instances, PostgreSQL and Redis (${stopped ? `in ${((Date.now() - stopStarted) / 1000).toFixed(1)} s` : "not within 20 s"}; left running: ${survivors.map((pid) => pids.get(pid)).join(", ") || "none"})`,
  );
  for (const pid of survivors) process.kill(pid, "SIGKILL");
  if (!stopped) process.kill(-child.pid, "SIGKILL");
}

function removeRunData(): void {
  // The cluster, Redis's folder, the token and the certificates all live in the temporary folder; the stack
  // stopped its PostgreSQL and Redis, or stopStack killed what was left.
  fs.rmSync(temporaryRoot, { recursive: true, force: true });
}

async function main(): Promise<void> {
  const started = Date.now();
  const stack = startStack();
  let sql: postgres.Sql | undefined;
  try {
    await stack.ready;
    log(`stack ready in ${Math.round((Date.now() - started) / 1000)} s at ${publicOrigin} (instances on ${instancePorts.join(", ")})`);
    ca = fs.readFileSync(path.join(dataDirectory, "tls", "cert.pem"));
    internalCa = fs.readFileSync(certificateAuthorityPath);
    const people = (JSON.parse(fs.readFileSync(path.join(stackDirectory, "demo-credentials.json"), "utf8")) as { signIns: Person[] }).signIns;
    const person = (email: string): Person => {
      const found = people.find((candidate) => candidate.email === email);
      if (!found) throw new Error(`${email} is not among the demo sign-ins`);
      return found;
    };
    // As the owner role (it may read every table and pg_stat_activity's rows of the runtime role's sessions
    // need pg_read_all_stats or the same role, so that query goes through the superuser below).
    sql = connectPostgres(stackDatabaseUrl(`${runName}_owner`, "owner-password", runName), { max: 2 });
    const database = sql;
    const countTransfers = async (): Promise<number> => Number((await database<{ count: string }[]>`select count(*)::text as count from transfers`)[0]?.count);

    await checkRedirect();
    const alice = await checkSessionAcrossInstances(person("alice@example.com"));
    await checkSignInThroughFirewall(person("bob@example.com"));
    await checkSharedApiBudget(alice);
    await checkFirewall(alice, countTransfers);
    await checkAdminNetworks();
    await checkTls();
    const superuser = connectPostgres(stackDatabaseUrl("postgres", "postgres-password", "postgres"), { max: 1 });
    try {
      await checkEveryHopEncrypted(superuser);
    } finally {
      await superuser.end({ timeout: 5 });
    }
    await checkMetrics();
    await checkInstanceKilledUnderLoad(database, alice);
  } catch (error) {
    failures.push(error instanceof Error ? (error.stack ?? error.message) : String(error));
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  } finally {
    await sql?.end({ timeout: 5 });
    await stopStack(stack.child);
    if (failures.length > 0) process.stdout.write(`\n./run.sh stack output (last lines):\n${stack.output().slice(-2000)}\n`);
    removeRunData();
    log(`finished in ${Math.round((Date.now() - started) / 1000)} s`);
  }
}

try {
  await main();
} catch (error) {
  failures.push(error instanceof Error ? (error.stack ?? error.message) : String(error));
}
process.stdout.write(failures.length === 0 ? "\ndeploy test passed\n" : `\ndeploy test FAILED: ${failures.length} check(s)\n`);
process.exit(failures.length === 0 ? 0 : 1);
