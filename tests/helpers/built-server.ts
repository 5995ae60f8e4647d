/**
 * The harness of the standalone scripts that drive the production build as `npm start` runs it (server.ts)
 * under transfer load: tests/crash/transfer-crash.ts and tests/operations/graceful-shutdown.ts; the operational
 * endpoints check (tests/operations/server-endpoints.ts, on PGlite) uses its checks, certificate and process
 * handling.
 *
 * A run has its own PostgreSQL database (created from template0, dropped at the end), data folder, keyring,
 * TLS certificate and AUTH_SECRET, so it never touches `.data/` or a developer's database. Scripts import this
 * under `tsx --conditions=react-server` (the session cookie is minted with the app's own code).
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import type http from "node:http";
import https from "node:https";
import os from "node:os";
import path from "node:path";
import type tls from "node:tls";
import postgres from "postgres";

export const repositoryRoot = path.resolve(import.meta.dirname, "..", "..");
const defaultAdminUrl = "postgres://postgres@127.0.0.1:5432/postgres";

// ---------------------------------------------------------------------------------------------------------
// Checks: one line per check, the failures kept for the exit status
// ---------------------------------------------------------------------------------------------------------
export interface CheckList {
  check(condition: boolean, message: string): void;
  readonly failures: string[];
}

export function createCheckList(): CheckList {
  const failures: string[] = [];
  return {
    failures,
    check(condition, message) {
      if (!condition) failures.push(message);
      process.stdout.write(`${condition ? "ok  " : "FAIL"} ${message}\n`);
    },
  };
}

// ---------------------------------------------------------------------------------------------------------
// The run's environment
// ---------------------------------------------------------------------------------------------------------
export interface BuiltServerRun {
  /** The run's database name, also used in its folder name. */
  readonly name: string;
  readonly httpsPort: number;
  readonly httpPort: number;
  readonly appOrigin: string;
  readonly adminUrl: string;
  readonly databaseUrl: string;
  readonly temporaryRoot: string;
  readonly keyringPath: string;
  /** The server's whole environment: nothing is inherited from the caller but PATH and HOME. */
  readonly serverEnvironment: NodeJS.ProcessEnv;
}

/**
 * Describes a run: `databasePrefix` names its database (letters, digits and underscores), the server listens
 * on `httpsPort` and `httpsPort + 1` (plain HTTP), and `environment` adds to or overrides the defaults. The
 * per-IP API limits and the per-user action limit are raised, since all the load comes from one address and
 * one customer. Redis is off (limits in memory) unless `environment` sets REDIS_URL.
 */
export function describeBuiltServerRun(options: {
  databasePrefix: string;
  httpsPort: number;
  environment?: Record<string, string>;
}): BuiltServerRun {
  const name = `${options.databasePrefix}_${Date.now()}_${crypto.randomBytes(3).toString("hex")}`;
  // The name goes into CREATE and DROP DATABASE (as an identifier, but a surprise here is worth stopping for).
  if (!/^[a-z][0-9a-z_]+$/.test(name)) throw new Error(`unexpected database name ${name}`);
  const adminUrl = process.env.TEST_POSTGRES_ADMIN_URL ?? defaultAdminUrl;
  const temporaryRoot = fs.mkdtempSync(path.join(os.tmpdir(), `${name.replaceAll("_", "-")}-`));
  const dataDirectory = path.join(temporaryRoot, "data");
  const keyringPath = path.join(temporaryRoot, "keys", "keyring.json");
  const databaseUrl = (() => {
    const url = new URL(adminUrl);
    url.pathname = `/${name}`;
    return url.toString();
  })();
  const httpPort = options.httpsPort + 1;
  const appOrigin = `https://localhost:${options.httpsPort}`;
  return {
    name,
    httpsPort: options.httpsPort,
    httpPort,
    appOrigin,
    adminUrl,
    databaseUrl,
    temporaryRoot,
    keyringPath,
    serverEnvironment: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      NODE_ENV: "production",
      ALLOW_EMBEDDED: "1",
      DATABASE_URL: databaseUrl,
      // Empty, not absent: .env.local must not point this run at a developer's Redis (the limits are in memory).
      REDIS_URL: "",
      AUTH_SECRET: crypto.randomBytes(36).toString("base64url"),
      KEY_PROVIDER: "local",
      KEYRING_PATH: keyringPath,
      DATA_DIR: dataDirectory,
      PORT: String(options.httpsPort),
      HTTP_PORT: String(httpPort),
      APP_ORIGIN: appOrigin,
      NODE_EXTRA_CA_CERTS: path.join(dataDirectory, "tls", "cert.pem"),
      RATE_LIMIT_API_PER_HOUR: "10000000",
      RATE_LIMIT_API_PER_DAY: "10000000",
      // The API's transfers count against the per-user budget too; these tests send thousands as one customer.
      RATE_LIMIT_USER_ACTIONS_PER_HOUR: "10000000",
      LOG_LEVEL: "warn",
      ...options.environment,
    },
  };
}

/** A self-signed P-256 certificate for localhost and 127.0.0.1 (cert.pem, key.pem) in `directory`, as server.ts expects. */
export function createSelfSignedCertificate(directory: string): void {
  fs.mkdirSync(directory, { recursive: true, mode: 0o700 });
  execFileSync("openssl", [
    "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
    "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
    "-keyout", path.join(directory, "key.pem"), "-out", path.join(directory, "cert.pem"),
  ], { stdio: "ignore" });
}

function createCertificate(run: BuiltServerRun): void {
  createSelfSignedCertificate(path.join(run.temporaryRoot, "data", "tls"));
}

function runScript(run: BuiltServerRun, script: string): void {
  // The same commands run.sh uses (npm run db:migrate / db:seed), with this run's configuration.
  execFileSync(process.execPath, ["--import", "tsx", "--conditions=react-server", script], {
    cwd: repositoryRoot,
    env: { ...run.serverEnvironment, NODE_ENV: "development" },
    stdio: ["ignore", "ignore", "inherit"],
  });
}

/** Creates the database, certificate and keyring, then migrates and seeds (the demo customers) as run.sh does. */
export async function prepareBuiltServerRun(run: BuiltServerRun): Promise<void> {
  const admin = postgres(run.adminUrl, { max: 1, onnotice: () => undefined });
  try {
    await admin`create database ${admin(run.name)} template template0 encoding 'UTF8'`;
  } finally {
    await admin.end();
  }
  createCertificate(run);
  const { createKeyringFile } = await import("@/lib/crypto/keyring-format");
  await createKeyringFile(run.keyringPath);
  runScript(run, "db/migrate.ts");
  runScript(run, "db/seed.ts");
}

/** Drops the run's database (whoever is still connected) and removes its folder. */
export async function removeBuiltServerRun(run: BuiltServerRun): Promise<void> {
  const admin = postgres(run.adminUrl, { max: 1, onnotice: () => undefined });
  try {
    await admin`drop database if exists ${admin(run.name)} with (force)`;
  } finally {
    await admin.end();
  }
  fs.rmSync(run.temporaryRoot, { recursive: true, force: true });
}

// ---------------------------------------------------------------------------------------------------------
// The seeded customer and a session for it
// ---------------------------------------------------------------------------------------------------------
export interface TransferringCustomer {
  readonly ownerId: string;
  readonly firstAccountId: string;
  readonly secondAccountId: string;
}

/** A seeded customer with two accounts of their own, to move money back and forth between them. */
export async function findCustomerWithTwoAccounts(sql: postgres.Sql): Promise<TransferringCustomer> {
  const owners = await sql<{ owner_id: string; account_ids: string[] }[]>`
    select owner_id, array_agg(id order by account_number) as account_ids
    from accounts where kind <> 'system' group by owner_id having count(*) >= 2 limit 1`;
  const owner = owners[0];
  const [firstAccountId, secondAccountId] = owner?.account_ids ?? [];
  if (!owner || !firstAccountId || !secondAccountId) throw new Error("the seed made no customer with two accounts");
  return { ownerId: owner.owner_id, firstAccountId, secondAccountId };
}

/**
 * A `Cookie` header for a signed-in session of `userId`, minted in this process against the run's database:
 * the same session record and cookie a completed sign-in makes (tests/helpers/session-cookie.ts). It points
 * this process's configuration at the run, since the app's database client reads it from process.env.
 */
export async function mintCustomerSession(run: BuiltServerRun, userId: string): Promise<string> {
  Object.assign(process.env, { ...run.serverEnvironment, NODE_ENV: "development" });
  const { database, closeDatabase } = await import("@/db/client");
  const { mintSessionCookie } = await import("@/tests/helpers/session-cookie");
  const authSecret = run.serverEnvironment.AUTH_SECRET ?? "";
  try {
    const session = await mintSessionCookie(database(), { userId, authSecret, idleTimeoutSeconds: 3600 });
    return session.cookieHeader;
  } finally {
    await closeDatabase();
  }
}

// ---------------------------------------------------------------------------------------------------------
// The server: one Node process (node --import tsx, not the tsx CLI, whose child would survive a SIGKILL of it)
// ---------------------------------------------------------------------------------------------------------
export interface ServerOutput {
  readonly stream: "stdout" | "stderr";
  readonly text: string;
}

/**
 * Starts server.ts from the build, in a process group of its own (`detached`). Its output is read (a pipe
 * nobody reads would stall the server once full) and passed to `onOutput`; by default lines mentioning an
 * error are echoed to this process's stderr.
 */
export function startBuiltServer(run: Pick<BuiltServerRun, "serverEnvironment">, onOutput?: (output: ServerOutput) => void): ChildProcess {
  const child = spawn(process.execPath, ["--import", "tsx", "server.ts"], {
    cwd: repositoryRoot,
    env: run.serverEnvironment,
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  const forward = (stream: ServerOutput["stream"]) => (chunk: Buffer) => {
    const text = chunk.toString("utf8");
    if (onOutput) onOutput({ stream, text });
    else if (/error/i.test(text)) process.stderr.write(`[server] ${text}`);
  };
  child.stdout?.on("data", forward("stdout"));
  child.stderr?.on("data", forward("stderr"));
  return child;
}

/** Sends `signal` to the server's whole process group: the server and anything it started. */
export function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch (error) {
    // ESRCH: the group is already gone, which is what the caller wanted.
    if ((error as NodeJS.ErrnoException).code !== "ESRCH") throw error;
  }
}

export function exited(child: ChildProcess): Promise<void> {
  return child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve()
    : new Promise((resolve) => child.once("exit", () => resolve()));
}

/** Stops a server that a script is done with: SIGTERM to the group, SIGKILL if it is still there after 5 s. */
export async function stopBuiltServer(child: ChildProcess | undefined): Promise<void> {
  if (!child) return;
  signalGroup(child, "SIGTERM");
  await Promise.race([exited(child), new Promise((resolve) => setTimeout(resolve, 5_000))]);
  signalGroup(child, "SIGKILL");
  await exited(child);
}

// ---------------------------------------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------------------------------------
export interface HttpAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/**
 * What became of one request, as precisely as a client can tell:
 * - answered: a complete HTTP response;
 * - not-sent: the connection was refused, or failed before its TLS handshake completed, so no byte of the
 *   request reached the server's HTTP layer;
 * - failed: anything else (reset, hang-up, timeout); `reusedSocket` says whether it went out on a kept-alive
 *   connection and `responseStarted` whether any of the response had arrived.
 */
export type RequestOutcome =
  | ({ kind: "answered" } & HttpAnswer)
  | { kind: "not-sent"; code: string }
  | { kind: "failed"; code: string; message: string; reusedSocket: boolean; responseStarted: boolean };

export interface HttpsClient {
  readonly agent: https.Agent;
  /** Sends a request and describes its fate; never rejects. */
  send(method: string, urlPath: string, headers: Record<string, string>, body?: string): Promise<RequestOutcome>;
  /** Sends a request and answers its response; rejects on anything but a complete response. */
  request(method: string, urlPath: string, headers: Record<string, string>, body?: string): Promise<HttpAnswer>;
}

const requestTimeoutMilliseconds = 15_000;

export function createHttpsClient(run: BuiltServerRun, agentOptions: https.AgentOptions = {}): HttpsClient {
  const agent = new https.Agent({ keepAlive: true, maxSockets: 64, rejectUnauthorized: false, ...agentOptions });

  function send(method: string, urlPath: string, headers: Record<string, string>, body?: string): Promise<RequestOutcome> {
    return new Promise((resolve) => {
      let handshakeCompleted = false;
      let responseStarted = false;
      let settled = false;
      const settle = (outcome: RequestOutcome) => {
        if (settled) return;
        settled = true;
        resolve(outcome);
      };
      const outgoing = https.request(
        {
          host: "127.0.0.1",
          servername: "localhost",
          port: run.httpsPort,
          method,
          path: urlPath,
          agent,
          headers,
          timeout: requestTimeoutMilliseconds,
        },
        (response) => {
          responseStarted = true;
          const chunks: Buffer[] = [];
          response.on("data", (chunk: Buffer) => chunks.push(chunk));
          response.on("end", () =>
            settle({
              kind: "answered",
              status: response.statusCode ?? 0,
              headers: response.headers,
              body: Buffer.concat(chunks).toString("utf8"),
            }),
          );
          response.on("error", (error: NodeJS.ErrnoException) =>
            settle({ kind: "failed", code: error.code ?? "error", message: error.message, reusedSocket: outgoing.reusedSocket, responseStarted }),
          );
        },
      );
      outgoing.on("socket", (socket) => {
        // A kept-alive socket finished its handshake long ago; a new one must finish it before anything is sent.
        if (outgoing.reusedSocket) handshakeCompleted = true;
        else (socket as tls.TLSSocket).once("secureConnect", () => (handshakeCompleted = true));
      });
      outgoing.on("timeout", () => {
        const error: NodeJS.ErrnoException = new Error("request timed out");
        error.code = "TIMEOUT";
        outgoing.destroy(error);
      });
      outgoing.on("error", (error: NodeJS.ErrnoException) => {
        const code = error.code ?? "error";
        if (code === "ECONNREFUSED" || (!outgoing.reusedSocket && !handshakeCompleted)) settle({ kind: "not-sent", code });
        else settle({ kind: "failed", code, message: error.message, reusedSocket: outgoing.reusedSocket, responseStarted });
      });
      if (body !== undefined) outgoing.write(body);
      outgoing.end();
    });
  }

  async function request(method: string, urlPath: string, headers: Record<string, string>, body?: string): Promise<HttpAnswer> {
    const outcome = await send(method, urlPath, headers, body);
    if (outcome.kind === "answered") return { status: outcome.status, headers: outcome.headers, body: outcome.body };
    throw new Error(`${method} ${urlPath}: ${outcome.kind} (${outcome.code})`);
  }

  return { agent, send, request };
}

/** Waits until the server answers /api/health with 200 (60 s at most), failing early if it exits. */
export async function waitForHealth(child: ChildProcess, client: HttpsClient): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`the server exited with ${child.exitCode} while starting`);
    const outcome = await client.send("GET", "/api/health", {});
    if (outcome.kind === "answered" && outcome.status === 200) return;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error("the server did not become healthy within 60 seconds");
}

// ---------------------------------------------------------------------------------------------------------
// Transfers
// ---------------------------------------------------------------------------------------------------------
export interface SentTransfer {
  readonly key: string;
  readonly body: string;
  readonly amountMinor: bigint;
}

/** A transfer of a random amount (0.01 to 4.99) between the customer's two accounts, in a random direction. */
export function randomTransfer(customer: TransferringCustomer, keyPrefix: string): SentTransfer {
  const forwards = crypto.randomInt(2) === 0;
  const amountMinor = BigInt(crypto.randomInt(1, 500));
  const [fromAccountId, toAccountId] = forwards
    ? [customer.firstAccountId, customer.secondAccountId]
    : [customer.secondAccountId, customer.firstAccountId];
  const pounds = amountMinor / 100n;
  const pence = (amountMinor % 100n).toString().padStart(2, "0");
  return {
    key: `${keyPrefix}-${crypto.randomUUID()}`,
    amountMinor,
    body: JSON.stringify({ fromAccountId, to: { kind: "own_account", accountId: toAccountId }, amount: `${pounds}.${pence}` }),
  };
}

/** The headers of `POST /api/v1/transfers` for `sent`, with its Idempotency-Key. */
export function transferHeaders(run: BuiltServerRun, cookie: string, sent: SentTransfer): Record<string, string> {
  return {
    cookie,
    origin: run.appOrigin,
    "content-type": "application/json",
    "idempotency-key": sent.key,
    "content-length": String(Buffer.byteLength(sent.body)),
  };
}

/** The id of the transfer in a 201/202 answer of the transfers API. */
export function transferIdOf(answer: HttpAnswer): string {
  return (JSON.parse(answer.body) as { transfer: { id: string } }).transfer.id;
}

/**
 * The ledger's invariants, read from the database: entries sum to zero overall and per transfer, every posted
 * transfer has entries, every balance equals the sum of its entries, no customer account is negative.
 */
export async function ledgerInvariants(sql: postgres.Sql): Promise<{ holds: boolean; description: string }[]> {
  const [total] = await sql<{ sum: string }[]>`select coalesce(sum(amount_minor), 0)::text as sum from ledger_entries`;
  const unbalanced = await sql`select transfer_id from ledger_entries group by transfer_id having sum(amount_minor) <> 0`;
  const postedWithoutEntries = await sql`
    select t.id from transfers t where t.status = 'posted'
    and not exists (select 1 from ledger_entries e where e.transfer_id = t.id)`;
  const mismatched = await sql`
    select a.id from accounts a left join ledger_entries e on e.account_id = a.id
    group by a.id, a.balance_minor having a.balance_minor <> coalesce(sum(e.amount_minor), 0)`;
  const [negative] = await sql<{ count: string }[]>`
    select count(*)::text as count from accounts
    where kind <> 'system' and (balance_minor < 0 or available_minor < 0 or available_minor > balance_minor)`;
  return [
    { holds: total?.sum === "0", description: `all ledger entries sum to zero (${total?.sum})` },
    { holds: unbalanced.length === 0, description: `every transfer's entries sum to zero (${unbalanced.length} do not)` },
    { holds: postedWithoutEntries.length === 0, description: `every posted transfer has entries (${postedWithoutEntries.length} have none)` },
    { holds: mismatched.length === 0, description: `every account's balance equals the sum of its entries (${mismatched.length} do not)` },
    { holds: negative?.count === "0", description: "no customer account is negative or has more available than posted" },
  ];
}
