/**
 * Crash test of the ledger (issue 6): with the real built server under transfer load, `kill -9` it, start it
 * again, and check that every transfer that was acknowledged with success is in the ledger and that the
 * invariants hold. This is done CRASH_ROUNDS times (default 3) on the same ledger, each kill at a random point. Then retry requests whose answer was lost in the crash, with their original keys, and check
 * that each moved money exactly once (replayed if it had committed, posted now if it had not).
 *
 * A standalone script rather than a Vitest project, because it needs the production build (`next build`) and
 * `vitest run` runs before the build in run.sh:
 *
 *   NODE_ENV=production npx next build      # once
 *   npx tsx --conditions=react-server tests/crash/transfer-crash.ts
 *
 * It creates its own PostgreSQL database (dropped at the end), data folder, keyring, TLS certificate and
 * AUTH_SECRET, so it never touches `.data/` or a developer's database. The server listens on CRASH_PORT
 * (default 8545) and CRASH_PORT + 1 for plain HTTP. The per-IP API limits are raised through configuration,
 * since all the load comes from one address. Exit status 0 when every check held, 1 otherwise.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import https from "node:https";
import os from "node:os";
import path from "node:path";
import postgres from "postgres";

const repositoryRoot = path.resolve(import.meta.dirname, "..", "..");
const httpsPort = Number(process.env.CRASH_PORT ?? 8545);
const httpPort = httpsPort + 1;
const appOrigin = `https://localhost:${httpsPort}`;
const adminUrl = process.env.TEST_POSTGRES_ADMIN_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
const concurrentClients = Number(process.env.CRASH_CLIENTS ?? 16);
// The server is killed once this many transfers were acknowledged (or after loadMilliseconds), while
// requests are still in flight.
// A random point in this range each round, so that the kill lands at a different moment of the load each time.
const acknowledgedBeforeKill = Number(process.env.CRASH_ACKNOWLEDGED_BEFORE_KILL ?? 300);
// Load, kill -9, restart and check, this many times over on the same database.
const rounds = Number(process.env.CRASH_ROUNDS ?? 3);
const loadMilliseconds = 20_000;

const failures: string[] = [];
function check(condition: boolean, message: string): void {
  if (!condition) failures.push(message);
  process.stdout.write(`${condition ? "ok  " : "FAIL"} ${message}\n`);
}

function log(message: string): void {
  process.stdout.write(`[crash] ${message}\n`);
}

// ---------------------------------------------------------------------------------------------------------
// Environment: a database, folder, keyring, certificate and secret of this run only
// ---------------------------------------------------------------------------------------------------------
const runName = `bank_crash_${Date.now()}_${crypto.randomBytes(3).toString("hex")}`;
if (!/^bank_crash_[0-9a-z_]+$/.test(runName)) throw new Error(`unexpected database name ${runName}`);
const temporaryRoot = fs.mkdtempSync(path.join(os.tmpdir(), "bank-crash-"));
const dataDirectory = path.join(temporaryRoot, "data");
const keyringPath = path.join(temporaryRoot, "keys", "keyring.json");
const databaseUrl = (() => {
  const url = new URL(adminUrl);
  url.pathname = `/${runName}`;
  return url.toString();
})();

const serverEnvironment: NodeJS.ProcessEnv = {
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
  PORT: String(httpsPort),
  HTTP_PORT: String(httpPort),
  APP_ORIGIN: appOrigin,
  NODE_EXTRA_CA_CERTS: path.join(dataDirectory, "tls", "cert.pem"),
  RATE_LIMIT_API_PER_HOUR: "10000000",
  RATE_LIMIT_API_PER_DAY: "10000000",
  // The API's transfers count against the per-user budget too; this test sends thousands as one customer.
  RATE_LIMIT_USER_ACTIONS_PER_HOUR: "10000000",
  LOG_LEVEL: "warn",
};

function createCertificate(): void {
  const directory = path.join(dataDirectory, "tls");
  fs.mkdirSync(directory, { recursive: true, mode: 0o700 });
  execFileSync("openssl", [
    "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
    "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
    "-keyout", path.join(directory, "key.pem"), "-out", path.join(directory, "cert.pem"),
  ], { stdio: "ignore" });
}

function runScript(script: string): void {
  // The same commands run.sh uses (npm run db:migrate / db:seed), with this run's configuration.
  execFileSync(process.execPath, ["--import", "tsx", "--conditions=react-server", script], {
    cwd: repositoryRoot,
    env: { ...serverEnvironment, NODE_ENV: "development" },
    stdio: ["ignore", "ignore", "inherit"],
  });
}

// ---------------------------------------------------------------------------------------------------------
// The server: one Node process (node --import tsx, not the tsx CLI, whose child would survive a SIGKILL of it)
// ---------------------------------------------------------------------------------------------------------
function startServer(): ChildProcess {
  const child = spawn(process.execPath, ["--import", "tsx", "server.ts"], {
    cwd: repositoryRoot,
    env: serverEnvironment,
    stdio: ["ignore", "ignore", "pipe"],
    detached: true,
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    const text = chunk.toString("utf8");
    if (/error/i.test(text)) process.stderr.write(`[server] ${text}`);
  });
  return child;
}

const agent = new https.Agent({ keepAlive: true, maxSockets: 64, rejectUnauthorized: false });

interface HttpAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function request(method: string, urlPath: string, headers: Record<string, string>, body?: string): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const outgoing = https.request(
      { host: "127.0.0.1", servername: "localhost", port: httpsPort, method, path: urlPath, agent, headers, timeout: 15_000 },
      (response) => {
        const chunks: Buffer[] = [];
        response.on("data", (chunk: Buffer) => chunks.push(chunk));
        response.on("end", () =>
          resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks).toString("utf8") }),
        );
        response.on("error", reject);
      },
    );
    outgoing.on("timeout", () => outgoing.destroy(new Error("request timed out")));
    outgoing.on("error", reject);
    if (body !== undefined) outgoing.write(body);
    outgoing.end();
  });
}

async function waitForHealth(child: ChildProcess): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`the server exited with ${child.exitCode} while starting`);
    try {
      if ((await request("GET", "/api/health", {})).status === 200) return;
    } catch {
      // Not listening yet.
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error("the server did not become healthy within 60 seconds");
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null) return;
  try {
    // The negative pid is the process group created by `detached`: the server and anything it started.
    process.kill(-child.pid, signal);
  } catch {
    // Already gone.
  }
}

function exited(child: ChildProcess): Promise<void> {
  return child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve()
    : new Promise((resolve) => child.once("exit", () => resolve()));
}

// ---------------------------------------------------------------------------------------------------------
// The load
// ---------------------------------------------------------------------------------------------------------
interface SentTransfer {
  key: string;
  body: string;
  amountMinor: bigint;
}

function transferBody(fromAccountId: string, toAccountId: string, amountMinor: bigint): string {
  const pounds = amountMinor / 100n;
  const pence = (amountMinor % 100n).toString().padStart(2, "0");
  return JSON.stringify({ fromAccountId, to: { kind: "own_account", accountId: toAccountId }, amount: `${pounds}.${pence}` });
}

function postTransfer(cookie: string, sent: SentTransfer): Promise<HttpAnswer> {
  return request(
    "POST",
    "/api/v1/transfers",
    {
      cookie,
      origin: appOrigin,
      "content-type": "application/json",
      "idempotency-key": sent.key,
      "content-length": String(Buffer.byteLength(sent.body)),
    },
    sent.body,
  );
}

async function main(): Promise<void> {
  const admin = postgres(adminUrl, { max: 1, onnotice: () => undefined });
  await admin`create database ${admin(runName)} template template0 encoding 'UTF8'`;
  await admin.end();
  const sql = postgres(databaseUrl, { max: 4, onnotice: () => undefined });
  let server: ChildProcess | undefined;
  try {
    createCertificate();
    const { createKeyringFile } = await import("@/lib/crypto/keyring-format");
    await createKeyringFile(keyringPath);
    runScript("db/migrate.ts");
    runScript("db/seed.ts");

    const owners = await sql<{ owner_id: string; account_ids: string[] }[]>`
      select owner_id, array_agg(id order by account_number) as account_ids
      from accounts where kind <> 'system' group by owner_id having count(*) >= 2 limit 1`;
    const owner = owners[0];
    const [firstAccountId, secondAccountId] = owner?.account_ids ?? [];
    if (!owner || !firstAccountId || !secondAccountId) throw new Error("the seed made no customer with two accounts");

    // The session cookie is minted in this process, against the run's database (the same record a sign-in makes).
    Object.assign(process.env, { ...serverEnvironment, NODE_ENV: "development" });
    const { database, closeDatabase } = await import("@/db/client");
    const { mintSessionCookie } = await import("@/tests/helpers/session-cookie");
    const authSecret = serverEnvironment.AUTH_SECRET ?? "";
    const session = await mintSessionCookie(database(), { userId: owner.owner_id, authSecret, idleTimeoutSeconds: 3600 });
    await closeDatabase();

    server = startServer();
    await waitForHealth(server);
    log(`server up on ${appOrigin} (pid ${server.pid}); ${concurrentClients} clients sending transfers`);

    const sentByKey = new Map<string, SentTransfer>();
    const acknowledgedByKey = new Map<string, string>();
    for (let round = 1; round <= rounds; round += 1) {
      const unanswered: SentTransfer[] = [];
      const unexpectedAnswers: string[] = [];
      let serverKilled = false;
      const loadStarted = Date.now();

      const runningServer = server;
      let acknowledgedThisRound = 0;
      const killAfter = Math.max(1, Math.round(acknowledgedBeforeKill * (0.5 + Math.random())));
      async function client(): Promise<void> {
        while (!serverKilled && Date.now() - loadStarted < loadMilliseconds) {
          const forwards = crypto.randomInt(2) === 0;
          const amountMinor = BigInt(crypto.randomInt(1, 500));
          const sent: SentTransfer = {
            key: `crash-${crypto.randomUUID()}`,
            amountMinor,
            body: forwards
              ? transferBody(firstAccountId ?? "", secondAccountId ?? "", amountMinor)
              : transferBody(secondAccountId ?? "", firstAccountId ?? "", amountMinor),
          };
          sentByKey.set(sent.key, sent);
          try {
            const answer = await postTransfer(session.cookieHeader, sent);
            if (answer.status === 201 || answer.status === 202) {
              const parsed = JSON.parse(answer.body) as { transfer: { id: string } };
              acknowledgedByKey.set(sent.key, parsed.transfer.id);
              acknowledgedThisRound += 1;
              if (acknowledgedThisRound >= killAfter && !serverKilled) {
                serverKilled = true;
                killGroup(runningServer, "SIGKILL");
                log(`round ${round}: SIGKILL sent after ${acknowledgedThisRound} acknowledged transfers, requests in flight`);
              }
            } else {
              unanswered.push(sent);
              unexpectedAnswers.push(`${answer.status} ${answer.body.slice(0, 200)}`);
            }
          } catch {
            // The connection died with the server: the outcome of this request is unknown to the client.
            unanswered.push(sent);
          }
        }
      }
      await Promise.all(Array.from({ length: concurrentClients }, () => client()));
      if (!serverKilled) {
        serverKilled = true;
        killGroup(server, "SIGKILL");
        log(`round ${round}: SIGKILL sent after the load time, with ${acknowledgedThisRound} acknowledged transfers`);
      }
      await exited(server);
      check(server.signalCode === "SIGKILL", `round ${round}: the server died of SIGKILL (no graceful shutdown)`);
      check(unexpectedAnswers.length === 0, `round ${round}: no answer other than 201/202 before the crash (${unexpectedAnswers.slice(0, 3).join("; ")})`);
      check(acknowledgedThisRound > 0, `round ${round}: transfers were acknowledged before the crash (${acknowledgedThisRound})`);
      log(`round ${round}: ${sentByKey.size} sent so far, ${acknowledgedByKey.size} acknowledged, ${unanswered.length} without an answer this round`);

      server = startServer();
      await waitForHealth(server);
      log(`round ${round}: server restarted`);

      // 1. Every acknowledged transfer is posted, with its two entries summing to zero.
      const acknowledgedIds = [...acknowledgedByKey.values()];
      const acknowledgedRows = await sql<{ id: string; status: string; idempotency_key: string; entries: string; entry_sum: string; amount_minor: string }[]>`
        select t.id, t.status, t.idempotency_key, count(e.id)::text as entries,
               coalesce(sum(e.amount_minor), 0)::text as entry_sum, t.amount_minor::text as amount_minor
        from transfers t left join ledger_entries e on e.transfer_id = t.id
        where t.id = any(${acknowledgedIds}::uuid[]) group by t.id`;
      check(acknowledgedRows.length === acknowledgedIds.length, `round ${round}: all ${acknowledgedIds.length} acknowledged transfers exist after the restart (found ${acknowledgedRows.length})`);
      const badAcknowledged = acknowledgedRows.filter((row) => {
        const sent = sentByKey.get(row.idempotency_key);
        return (
          row.status !== "posted" ||
          row.entries !== "2" ||
          row.entry_sum !== "0" ||
          sent === undefined ||
          BigInt(row.amount_minor) !== sent.amountMinor ||
          acknowledgedByKey.get(row.idempotency_key) !== row.id
        );
      });
      check(badAcknowledged.length === 0, `round ${round}: each acknowledged transfer is posted with two entries summing to zero, its key and amount as sent (${badAcknowledged.length} not)`);

      await checkInvariants(sql, `round ${round}, after the restart`);

      // 2. Requests whose answer was lost: some may have committed before the kill (the client cannot know). Each
      // is retried with its key and body and must move money exactly once: replayed if it committed, posted if not.
      const unansweredKeys = unanswered.map((sent) => sent.key);
      const [committedUnanswered] = await sql<{ count: string }[]>`
        select count(*)::text as count from transfers where idempotency_key = any(${unansweredKeys}::text[])`;
      log(`round ${round}: ${committedUnanswered?.count ?? "?"} of the ${unanswered.length} unanswered requests had committed before the kill`);
      const retried = unanswered.slice(0, 60);
      let replayedCount = 0;
      let postedNowCount = 0;
      const retryProblems: string[] = [];
      for (const sent of retried) {
        const first = await postTransfer(session.cookieHeader, sent);
        const second = await postTransfer(session.cookieHeader, sent);
        if (first.status !== 201 || second.status !== 201) {
          retryProblems.push(`${sent.key}: ${first.status}/${second.status}`);
          continue;
        }
        const firstId = (JSON.parse(first.body) as { transfer: { id: string } }).transfer.id;
        const secondId = (JSON.parse(second.body) as { transfer: { id: string } }).transfer.id;
        if (first.headers["idempotent-replayed"] === "true") replayedCount += 1;
        else postedNowCount += 1;
        if (secondId !== firstId || second.headers["idempotent-replayed"] !== "true") {
          retryProblems.push(`${sent.key}: the second retry was not a replay of the first`);
        }
      }
      check(retryProblems.length === 0, `round ${round}: retried ${retried.length} unanswered requests: ${replayedCount} had committed before the crash (replayed), ${postedNowCount} posted now; problems: ${retryProblems.slice(0, 3).join("; ") || "none"}`);
      const retriedKeys = retried.map((sent) => sent.key);
      const perKey = await sql<{ idempotency_key: string; transfers: string }[]>`
        select idempotency_key, count(*)::text as transfers from transfers
        where initiated_by = ${owner.owner_id}::uuid and idempotency_key = any(${retriedKeys}::text[])
        group by idempotency_key`;
      check(
        perKey.length === retriedKeys.length && perKey.every((row) => row.transfers === "1"),
        `round ${round}: each retried key has exactly one transfer in the ledger`,
      );
      const allKeys = [...sentByKey.keys()];
      const [duplicates] = await sql<{ count: string }[]>`
        select count(*)::text as count from (
          select idempotency_key from transfers where idempotency_key = any(${allKeys}::text[])
          group by initiated_by, idempotency_key having count(*) > 1) as duplicated`;
      check(duplicates?.count === "0", `round ${round}: no idempotency key produced two transfers`);

      await checkInvariants(sql, `round ${round}, after the retries`);
    }
  } finally {
    if (server) {
      killGroup(server, "SIGTERM");
      await Promise.race([exited(server), new Promise((resolve) => setTimeout(resolve, 5_000))]);
      killGroup(server, "SIGKILL");
    }
    agent.destroy();
    await sql.end({ timeout: 5 });
    const cleanup = postgres(adminUrl, { max: 1, onnotice: () => undefined });
    await cleanup`drop database if exists ${cleanup(runName)} with (force)`;
    await cleanup.end();
    fs.rmSync(temporaryRoot, { recursive: true, force: true });
  }
}

async function checkInvariants(sql: postgres.Sql, when: string): Promise<void> {
  const [total] = await sql<{ sum: string }[]>`select coalesce(sum(amount_minor), 0)::text as sum from ledger_entries`;
  check(total?.sum === "0", `${when}: all ledger entries sum to zero (${total?.sum})`);
  const unbalanced = await sql`select transfer_id from ledger_entries group by transfer_id having sum(amount_minor) <> 0`;
  check(unbalanced.length === 0, `${when}: every transfer's entries sum to zero (${unbalanced.length} do not)`);
  const postedWithoutEntries = await sql`
    select t.id from transfers t where t.status = 'posted'
    and not exists (select 1 from ledger_entries e where e.transfer_id = t.id)`;
  check(postedWithoutEntries.length === 0, `${when}: every posted transfer has entries (${postedWithoutEntries.length} have none)`);
  const mismatched = await sql`
    select a.id from accounts a left join ledger_entries e on e.account_id = a.id
    group by a.id, a.balance_minor having a.balance_minor <> coalesce(sum(e.amount_minor), 0)`;
  check(mismatched.length === 0, `${when}: every account's balance equals the sum of its entries (${mismatched.length} do not)`);
  const [negative] = await sql<{ count: string }[]>`
    select count(*)::text as count from accounts
    where kind <> 'system' and (balance_minor < 0 or available_minor < 0 or available_minor > balance_minor)`;
  check(negative?.count === "0", `${when}: no customer account is negative or has more available than posted`);
}

try {
  await main();
} catch (error) {
  failures.push(error instanceof Error ? (error.stack ?? error.message) : String(error));
  process.stderr.write(`${String(error instanceof Error ? (error.stack ?? error.message) : error)}\n`);
}
process.stdout.write(failures.length === 0 ? "\ncrash test passed\n" : `\ncrash test FAILED: ${failures.length} check(s)\n`);
process.exit(failures.length === 0 ? 0 : 1);
