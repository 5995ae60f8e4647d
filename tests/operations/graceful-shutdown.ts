/**
 * Graceful shutdown under transfer load (issue 11): the real built server, with the real Redis, is sent
 * SIGTERM while clients stream transfers over kept-alive connections, and loses none.
 *
 * The clients keep sending after the signal until their connections are refused. Then this checks:
 * - the server exits by itself with status 0, within the bound server.ts sets (13.5 s), and logs one line per
 *   resource it closed: the three timers first, then the database pool and the rate limiter's Redis client;
 *   nothing is logged at warn or error level during the shutdown;
 * - requests were in flight when the signal arrived (sent before it, answered after it), and the server told
 *   clients on kept-alive connections to close them (`Connection: close`);
 * - every request got a complete answer, or was refused before any of it was sent (ECONNREFUSED, or a
 *   connection reset before its TLS handshake finished), or failed on a kept-alive connection before any answer
 *   arrived. That last case is the one race HTTP/1.1 keep-alive leaves: the server closes an idle connection
 *   at the moment the client writes on it (lib/http/graceful-close.ts). The server never read such a request;
 *   this test does not take that on trust: it checks that none of them is in the ledger, and retries each with
 *   its original Idempotency-Key against the restarted server, where it must move money exactly once. Any
 *   other failure (a reset or hang-up after the request was sent on a new connection, an answer cut off, a
 *   timeout) fails the test;
 * - every acknowledged transfer is in the ledger as answered, no unacknowledged one is, and after the retries
 *   the ledger holds exactly the acknowledged and the retried keys, once each; the ledger's invariants hold;
 * - PostgreSQL saw every session of the run's database end normally: its `sessions_abandoned` counter (sessions
 *   whose client went away without saying goodbye, as a process that exits with its pool open does) does not
 *   grow across the shutdown.
 *
 * A standalone script like tests/crash/transfer-crash.ts, with the same harness (tests/helpers/built-server.ts):
 *
 *   NODE_ENV=production npx next build      # once
 *   npx tsx --conditions=react-server tests/operations/graceful-shutdown.ts
 *
 * Ports SHUTDOWN_PORT (default 8860) and +1; Redis at SHUTDOWN_REDIS_URL (default redis://127.0.0.1:6379),
 * under a RATE_LIMIT_PREFIX of this run only, whose keys are deleted at the end. Exit status 0 when every check
 * held, 1 otherwise.
 */
import type { ChildProcess } from "node:child_process";
import crypto from "node:crypto";
import Redis from "ioredis";
import postgres from "postgres";
import {
  createCheckList,
  createHttpsClient,
  describeBuiltServerRun,
  exited,
  findCustomerWithTwoAccounts,
  ledgerInvariants,
  mintCustomerSession,
  prepareBuiltServerRun,
  randomTransfer,
  removeBuiltServerRun,
  type RequestOutcome,
  type SentTransfer,
  startBuiltServer,
  stopBuiltServer,
  transferHeaders,
  transferIdOf,
  waitForHealth,
} from "@/tests/helpers/built-server";

const concurrentClients = Number(process.env.SHUTDOWN_CLIENTS ?? 16);
// SIGTERM is sent once this many transfers were acknowledged, in the middle of the stream.
const acknowledgedBeforeSignal = Number(process.env.SHUTDOWN_ACKNOWLEDGED_BEFORE_SIGNAL ?? 300);
// server.ts's bound on the whole shutdown: a 9 s drain deadline (+0.5 s for Next) and two 2 s hook stages.
const shutdownBoundMilliseconds = 13_500;
// A client that is still sending this long after the start has not been refused: that alone is a failure.
const loadLimitMilliseconds = 60_000;
const redisUrl = process.env.SHUTDOWN_REDIS_URL ?? "redis://127.0.0.1:6379";
const rateLimitPrefix = `bank-shutdown-test-${crypto.randomBytes(4).toString("hex")}:rate-limit`;

const { check, failures } = createCheckList();

function log(message: string): void {
  process.stdout.write(`[shutdown] ${message}\n`);
}

const run = describeBuiltServerRun({
  databasePrefix: "bank_shutdown",
  httpsPort: Number(process.env.SHUTDOWN_PORT ?? 8860),
  // With Redis configured, the rate limiter holds a Redis client, which the shutdown must close.
  environment: { REDIS_URL: redisUrl, RATE_LIMIT_PREFIX: rateLimitPrefix },
});
const client = createHttpsClient(run);

interface TrackedRequest {
  readonly sent: SentTransfer;
  /** performance.now() when the request was handed to the client, and when its outcome was known. */
  readonly sentAt: number;
  finishedAt: number;
  outcome: RequestOutcome | undefined;
}

interface OutputLine {
  readonly stream: "stdout" | "stderr";
  readonly text: string;
  /** performance.now() when this process read it. */
  readonly readAt: number;
  readonly entry: Record<string, unknown> | undefined;
}

/** Collects the server's output as lines (chunks may end mid-line), parsing the JSON ones. */
function createOutputCollector() {
  const lines: OutputLine[] = [];
  const partial = { stdout: "", stderr: "" };
  const take = (stream: "stdout" | "stderr", text: string) => {
    const pieces = (partial[stream] + text).split("\n");
    partial[stream] = pieces.pop() ?? "";
    for (const piece of pieces) {
      if (piece.trim() === "") continue;
      let entry: Record<string, unknown> | undefined;
      try {
        const parsed: unknown = JSON.parse(piece);
        if (typeof parsed === "object" && parsed !== null) entry = parsed as Record<string, unknown>;
      } catch {
        // Not every line is JSON (Next prints plain text at start); those keep only their text.
        entry = undefined;
      }
      lines.push({ stream, text: piece, readAt: performance.now(), entry });
    }
  };
  return { lines, take };
}

/** Whether a log line is a warning or an error: server.ts writes "warn"/"error", pino 40 and above. */
function isWarningOrError(line: OutputLine): boolean {
  const level = line.entry?.level;
  if (typeof level === "number") return level >= 40;
  if (typeof level === "string") return level === "warn" || level === "error" || level === "fatal";
  // Plain text on stderr after the signal is unexpected too.
  return line.stream === "stderr";
}

/** pg_stat_database's count of sessions whose client vanished without closing them, for the run's database. */
async function abandonedSessions(sql: postgres.Sql): Promise<number> {
  // Statistics are read once per transaction and then cached; a fresh snapshot is wanted every time.
  await sql`select pg_stat_clear_snapshot()`;
  const [row] = await sql<{ abandoned: string }[]>`
    select sessions_abandoned::text as abandoned from pg_stat_database where datname = ${run.name}`;
  return Number(row?.abandoned ?? Number.NaN);
}

/** Waits until the run's database has no backend but this script's own (whose application_name is set). */
async function waitForServerSessionsToEnd(sql: postgres.Sql): Promise<number> {
  const deadline = Date.now() + 5_000;
  for (;;) {
    const [row] = await sql<{ count: string }[]>`
      select count(*)::text as count from pg_stat_activity
      where datname = ${run.name} and application_name <> 'graceful-shutdown-test'`;
    const remaining = Number(row?.count ?? 0);
    if (remaining === 0 || Date.now() > deadline) return remaining;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function deleteRateLimitKeys(): Promise<void> {
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1, lazyConnect: true });
  try {
    await redis.connect();
    let cursor = "0";
    do {
      const [next, keys] = await redis.scan(cursor, "MATCH", `${rateLimitPrefix}*`, "COUNT", 500);
      cursor = next;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== "0");
  } finally {
    redis.disconnect();
  }
}

function postTransfer(cookie: string, sent: SentTransfer): Promise<RequestOutcome> {
  return client.send("POST", "/api/v1/transfers", transferHeaders(run, cookie, sent), sent.body);
}

async function main(): Promise<void> {
  const started = performance.now();
  const sql = postgres(run.databaseUrl, {
    max: 2,
    onnotice: () => undefined,
    connection: { application_name: "graceful-shutdown-test" },
  });
  const output = createOutputCollector();
  let server: ChildProcess | undefined;
  try {
    await prepareBuiltServerRun(run);
    const customer = await findCustomerWithTwoAccounts(sql);
    const cookie = await mintCustomerSession(run, customer.ownerId);

    server = startBuiltServer(run, ({ stream, text }) => output.take(stream, text));
    await waitForHealth(server, client);
    log(`server up on ${run.appOrigin} (pid ${server.pid}), Redis ${redisUrl}; ${concurrentClients} clients sending transfers`);

    // ---------------------------------------------------------------------------------------------------
    // The load, and SIGTERM in the middle of it
    // ---------------------------------------------------------------------------------------------------
    const runningServer = server;
    const exitStatus = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((resolve) =>
      runningServer.once("exit", (code, signal) => resolve({ code, signal, at: performance.now() })),
    );
    const tracked: TrackedRequest[] = [];
    const unexpectedBeforeSignal: string[] = [];
    let acknowledged = 0;
    let signalAt: number | undefined;
    let abandonedBefore = Number.NaN;
    let clientsNotRefused = 0;
    const loadStarted = performance.now();

    async function sendSigterm(): Promise<void> {
      // Read just before the signal: every session so far is counted, and the server's own are still open.
      abandonedBefore = await abandonedSessions(sql);
      signalAt = performance.now();
      // To the server process itself, as an orchestrator would; not the group's SIGKILL of the crash test.
      if (runningServer.pid !== undefined) process.kill(runningServer.pid, "SIGTERM");
      log(`SIGTERM sent after ${acknowledged} acknowledged transfers, ${(signalAt - loadStarted).toFixed(0)} ms into the load`);
    }

    let signalling: Promise<void> | undefined;
    async function sendTransfers(): Promise<void> {
      for (;;) {
        if (performance.now() - loadStarted > loadLimitMilliseconds) {
          clientsNotRefused += 1;
          return;
        }
        const request: TrackedRequest = {
          sent: randomTransfer(customer, "shutdown"),
          sentAt: performance.now(),
          finishedAt: Number.NaN,
          outcome: undefined,
        };
        tracked.push(request);
        const outcome = await postTransfer(cookie, request.sent);
        request.finishedAt = performance.now();
        request.outcome = outcome;
        if (outcome.kind === "answered" && (outcome.status === 201 || outcome.status === 202)) {
          acknowledged += 1;
          if (acknowledged >= acknowledgedBeforeSignal && signalling === undefined) signalling = sendSigterm();
        } else if (signalAt === undefined) {
          unexpectedBeforeSignal.push(outcome.kind === "answered" ? `${outcome.status} ${outcome.body.slice(0, 200)}` : `${outcome.kind} ${outcome.code}`);
        }
        // Refused: the listener is closed, which is where this client stops.
        if (outcome.kind === "not-sent" && signalAt !== undefined) return;
      }
    }
    await Promise.all(Array.from({ length: concurrentClients }, () => sendTransfers()));
    await signalling;
    const exit = await Promise.race([
      exitStatus,
      new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), shutdownBoundMilliseconds + 5_000)),
    ]);

    check(unexpectedBeforeSignal.length === 0, `before the signal every request was acknowledged (${unexpectedBeforeSignal.slice(0, 3).join("; ") || "none otherwise"})`);
    check(signalAt !== undefined, `SIGTERM was sent after ${acknowledgedBeforeSignal} acknowledged transfers`);
    if (signalAt === undefined) return;
    const signalTime = signalAt;
    check(clientsNotRefused === 0, `every client was refused in the end (${clientsNotRefused} still sending after ${loadLimitMilliseconds / 1000} s)`);

    // 1. The process exits by itself with 0, in time.
    const exitMilliseconds = exit === undefined ? Number.NaN : exit.at - signalTime;
    check(
      exit !== undefined && exit.code === 0 && exit.signal === null,
      `the server exited by itself with status 0 (${exit === undefined ? "still running" : `status ${exit.code}, signal ${exit.signal}`})`,
    );
    check(exitMilliseconds <= shutdownBoundMilliseconds, `... within the shutdown bound of ${shutdownBoundMilliseconds} ms (${exitMilliseconds.toFixed(0)} ms after SIGTERM)`);
    if (exit === undefined) {
      // Only to let the rest of the checks and the cleanup run; the failure is already recorded.
      await stopBuiltServer(runningServer);
    }

    // 2. Its log: one line per resource closed, timers before connections, after the requests were answered.
    const stdoutEntries = output.lines.filter((line) => line.stream === "stdout" && line.entry !== undefined);
    const indexOf = (predicate: (entry: Record<string, unknown>) => boolean) =>
      stdoutEntries.findIndex((line) => line.entry !== undefined && predicate(line.entry));
    const closedIndex = (resource: string) =>
      indexOf((entry) => entry.message === "Shutdown: closed" && entry.resource === resource);
    const shuttingDownIndex = indexOf((entry) => entry.message === "Shutting down" && entry.signal === "SIGTERM");
    const drainedIndex = indexOf((entry) => entry.message === "Shutdown: listeners closed, in-flight requests answered");
    const redisResource = `rate-limit Redis ${new URL(redisUrl).hostname}:${new URL(redisUrl).port || "6379"}`;
    const timerIndexes = ["audit sealer", "email delivery poller", "identity housekeeping"].map(closedIndex);
    const connectionIndexes = ["database pool", redisResource].map(closedIndex);
    const shutDownIndex = indexOf((entry) => entry.message === "Shut down" && entry.graceful === true && entry.exitCode === 0);
    check(shuttingDownIndex >= 0 && drainedIndex > shuttingDownIndex, "the log says it is shutting down on SIGTERM, then that the listeners closed with the in-flight requests answered");
    check(connectionIndexes.every((index) => index > drainedIndex), `the log has a "closed" line for the database pool and for ${redisResource}, after the requests were answered`);
    check(
      timerIndexes.every((index) => index > drainedIndex && connectionIndexes.every((connection) => connection > index)),
      "... and one for each timer (audit sealer, email delivery poller, identity housekeeping), all before the connections closed",
    );
    check(shutDownIndex > Math.max(...connectionIndexes), "the log's last word is a graceful \"Shut down\" with exit status 0");
    const drainedEntry = stdoutEntries[drainedIndex]?.entry;
    const shutDownEntry = stdoutEntries[shutDownIndex]?.entry;
    const warnings = output.lines.filter((line) => line.readAt >= signalTime && isWarningOrError(line));
    check(warnings.length === 0, `nothing was logged at warn or error level during the shutdown (${warnings.slice(0, 3).map((line) => line.text.slice(0, 300)).join(" | ") || "none"})`);

    // 3. What became of every request.
    const answered = tracked.filter((request) => request.outcome?.kind === "answered");
    const acknowledgedRequests = answered.filter(
      (request) => request.outcome?.kind === "answered" && (request.outcome.status === 201 || request.outcome.status === 202),
    );
    const otherAnswers = answered.filter((request) => !acknowledgedRequests.includes(request));
    const refused = tracked.filter((request) => request.outcome?.kind === "not-sent");
    const resetOnKeptAlive = tracked.filter(
      (request) =>
        request.outcome?.kind === "failed" &&
        request.outcome.reusedSocket &&
        !request.outcome.responseStarted &&
        (request.outcome.code === "ECONNRESET" || request.outcome.code === "EPIPE"),
    );
    const lost = tracked.filter(
      (request) => request.outcome?.kind === "failed" && !resetOnKeptAlive.includes(request),
    );
    const inFlightAtSignal = acknowledgedRequests.filter((request) => request.sentAt < signalTime && request.finishedAt > signalTime);
    const toldToClose = answered.filter(
      (request) => request.finishedAt > signalTime && request.outcome?.kind === "answered" && request.outcome.headers.connection === "close",
    );
    log(
      `${tracked.length} requests: ${acknowledgedRequests.length} acknowledged (${inFlightAtSignal.length} of them in flight at SIGTERM, ` +
        `${toldToClose.length} answers with Connection: close), ${refused.length} refused, ` +
        `${resetOnKeptAlive.length} reset on a kept-alive connection before any answer, ${lost.length} lost, ${otherAnswers.length} other answers`,
    );
    check(otherAnswers.length === 0, `every answer was a 201/202 (${otherAnswers.slice(0, 3).map((request) => (request.outcome?.kind === "answered" ? `${request.outcome.status} ${request.outcome.body.slice(0, 120)}` : "")).join("; ") || "all were"})`);
    check(
      lost.length === 0,
      `no request was lost: no reset, hang-up or timeout after it was sent on a new connection or after its answer began (${lost.slice(0, 3).map((request) => (request.outcome?.kind === "failed" ? `${request.outcome.code}${request.outcome.reusedSocket ? " on a kept-alive connection" : ""}${request.outcome.responseStarted ? " mid-answer" : ""}` : "")).join("; ") || "none"})`,
    );
    check(refused.length >= 1 && refused.every((request) => request.sentAt >= signalTime), `connections were refused only after the signal (${refused.length} refused)`);
    check(inFlightAtSignal.length >= 1, `requests were in flight at SIGTERM and were answered (${inFlightAtSignal.length} sent before it, acknowledged after it)`);
    check(toldToClose.length >= 1, `answers during the shutdown told the client to close its kept-alive connection (${toldToClose.length} with Connection: close)`);

    // 4. The ledger as the shutdown left it, before anything is retried.
    const sentByKey = new Map(tracked.map((request) => [request.sent.key, request.sent]));
    const acknowledgedIdByKey = new Map(
      acknowledgedRequests.map((request) => [request.sent.key, request.outcome?.kind === "answered" ? transferIdOf(request.outcome) : ""]),
    );
    const ledgerRows = () =>
      sql<{ id: string; idempotency_key: string; status: string; entries: string; entry_sum: string; amount_minor: string }[]>`
        select t.id, t.idempotency_key, t.status, count(e.id)::text as entries,
               coalesce(sum(e.amount_minor), 0)::text as entry_sum, t.amount_minor::text as amount_minor
        from transfers t left join ledger_entries e on e.transfer_id = t.id
        where t.initiated_by = ${customer.ownerId}::uuid and t.idempotency_key like 'shutdown-%'
        group by t.id`;
    const afterShutdown = await ledgerRows();
    const keysInLedger = new Set(afterShutdown.map((row) => row.idempotency_key));
    const missing = [...acknowledgedIdByKey.keys()].filter((key) => !keysInLedger.has(key));
    check(missing.length === 0, `every acknowledged transfer is in the ledger (${acknowledgedIdByKey.size} acknowledged, ${missing.length} missing)`);
    const wrong = afterShutdown.filter((row) => {
      const sent = sentByKey.get(row.idempotency_key);
      return (
        acknowledgedIdByKey.has(row.idempotency_key) &&
        (row.id !== acknowledgedIdByKey.get(row.idempotency_key) ||
          row.status !== "posted" ||
          row.entries !== "2" ||
          row.entry_sum !== "0" ||
          sent === undefined ||
          BigInt(row.amount_minor) !== sent.amountMinor)
      );
    });
    check(wrong.length === 0, `... each as answered: its id, posted, two entries summing to zero, the amount sent (${wrong.length} not)`);
    const unacknowledgedInLedger = afterShutdown.filter((row) => !acknowledgedIdByKey.has(row.idempotency_key));
    check(
      unacknowledgedInLedger.length === 0,
      `no transfer without an acknowledgement is in the ledger, none of the ${resetOnKeptAlive.length} reset requests either (${unacknowledgedInLedger.length} found)`,
    );
    for (const invariant of await ledgerInvariants(sql)) check(invariant.holds, `after the shutdown: ${invariant.description}`);

    // 5. PostgreSQL saw the server's sessions end normally.
    const remainingSessions = await waitForServerSessionsToEnd(sql);
    check(remainingSessions === 0, `the server's database sessions are gone after its exit (${remainingSessions} left)`);
    const abandonedAfter = await abandonedSessions(sql);
    check(
      abandonedAfter === abandonedBefore,
      `no session of the run's database was abandoned: the pool was closed, not cut off by the exit (sessions_abandoned ${abandonedBefore} before SIGTERM, ${abandonedAfter} after the exit)`,
    );

    // ---------------------------------------------------------------------------------------------------
    // Restart, and retry what was reset, with the original keys
    // ---------------------------------------------------------------------------------------------------
    server = startBuiltServer(run, ({ stream, text }) => output.take(stream, text));
    await waitForHealth(server, client);
    log("server restarted");
    const retryProblems: string[] = [];
    let postedNow = 0;
    let replayed = 0;
    for (const request of resetOnKeptAlive) {
      const first = await client.request("POST", "/api/v1/transfers", transferHeaders(run, cookie, request.sent), request.sent.body);
      const second = await client.request("POST", "/api/v1/transfers", transferHeaders(run, cookie, request.sent), request.sent.body);
      if (first.status !== 201 || second.status !== 201) {
        retryProblems.push(`${request.sent.key}: ${first.status}/${second.status}`);
        continue;
      }
      if (first.headers["idempotent-replayed"] === "true") replayed += 1;
      else postedNow += 1;
      if (transferIdOf(second) !== transferIdOf(first) || second.headers["idempotent-replayed"] !== "true") {
        retryProblems.push(`${request.sent.key}: the second retry was not a replay of the first`);
      }
    }
    check(
      retryProblems.length === 0 && replayed === 0,
      `each of the ${resetOnKeptAlive.length} reset requests, retried twice with its key, posted once (${postedNow} posted, ${replayed} replays of a transfer posted before, problems: ${retryProblems.slice(0, 3).join("; ") || "none"})`,
    );
    const afterRetries = await ledgerRows();
    const expectedKeys = new Set([...acknowledgedIdByKey.keys(), ...resetOnKeptAlive.map((request) => request.sent.key)]);
    const transfersPerKey = new Map<string, number>();
    for (const row of afterRetries) transfersPerKey.set(row.idempotency_key, (transfersPerKey.get(row.idempotency_key) ?? 0) + 1);
    check(
      afterRetries.length === expectedKeys.size && [...expectedKeys].every((key) => transfersPerKey.get(key) === 1),
      `the ledger holds exactly the acknowledged and the retried transfers, once each (${afterRetries.length} transfers, ${expectedKeys.size} expected)`,
    );
    for (const invariant of await ledgerInvariants(sql)) check(invariant.holds, `after the retries: ${invariant.description}`);

    // The restarted server, now idle, shuts down cleanly too.
    const restarted = server;
    const idleSignalAt = performance.now();
    if (restarted.pid !== undefined) process.kill(restarted.pid, "SIGTERM");
    await Promise.race([exited(restarted), new Promise((resolve) => setTimeout(resolve, shutdownBoundMilliseconds + 5_000))]);
    check(restarted.exitCode === 0, `the restarted server, idle, exits with 0 on SIGTERM too (${restarted.exitCode}, after ${(performance.now() - idleSignalAt).toFixed(0)} ms)`);

    log(
      `timings: load until SIGTERM ${(signalTime - loadStarted).toFixed(0)} ms; SIGTERM to exit ${exitMilliseconds.toFixed(0)} ms ` +
        `(drain ${String(drainedEntry?.milliseconds ?? "?")} ms, whole shutdown by the server's clock ${String(shutDownEntry?.milliseconds ?? "?")} ms); ` +
        `whole test ${((performance.now() - started) / 1000).toFixed(1)} s`,
    );
  } finally {
    await stopBuiltServer(server);
    client.agent.destroy();
    await sql.end({ timeout: 5 });
    await removeBuiltServerRun(run);
    await deleteRateLimitKeys();
    if (failures.length > 0) {
      process.stderr.write(`server output (last 60 lines):\n${output.lines.slice(-60).map((line) => line.text).join("\n")}\n`);
    }
  }
}

try {
  await main();
} catch (error) {
  failures.push(error instanceof Error ? (error.stack ?? error.message) : String(error));
  process.stderr.write(`${String(error instanceof Error ? (error.stack ?? error.message) : error)}\n`);
}
process.stdout.write(failures.length === 0 ? "\ngraceful-shutdown test passed\n" : `\ngraceful-shutdown test FAILED: ${failures.length} check(s)\n`);
process.exit(failures.length === 0 ? 0 : 1);
