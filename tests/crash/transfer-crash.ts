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
 * AUTH_SECRET (tests/helpers/built-server.ts), so it never touches `.data/` or a developer's database. The server listens on CRASH_PORT
 * (default 8545) and CRASH_PORT + 1 for plain HTTP. The per-IP API limits are raised through configuration,
 * since all the load comes from one address. Exit status 0 when every check held, 1 otherwise.
 */
import type { ChildProcess } from "node:child_process";
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
  type SentTransfer,
  signalGroup,
  startBuiltServer,
  stopBuiltServer,
  transferHeaders,
  transferIdOf,
  waitForHealth,
} from "@/tests/helpers/built-server";

const concurrentClients = Number(process.env.CRASH_CLIENTS ?? 16);
// The server is killed once this many transfers were acknowledged (or after loadMilliseconds), while
// requests are still in flight.
// A random point in this range each round, so that the kill lands at a different moment of the load each time.
const acknowledgedBeforeKill = Number(process.env.CRASH_ACKNOWLEDGED_BEFORE_KILL ?? 300);
// Load, kill -9, restart and check, this many times over on the same database.
const rounds = Number(process.env.CRASH_ROUNDS ?? 3);
const loadMilliseconds = 20_000;

const { check, failures } = createCheckList();

function log(message: string): void {
  process.stdout.write(`[crash] ${message}\n`);
}

// A database, folder, keyring, certificate and secret of this run only (tests/helpers/built-server.ts).
const run = describeBuiltServerRun({ databasePrefix: "bank_crash", httpsPort: Number(process.env.CRASH_PORT ?? 8545) });
const client = createHttpsClient(run);

function postTransfer(cookie: string, sent: SentTransfer) {
  return client.request("POST", "/api/v1/transfers", transferHeaders(run, cookie, sent), sent.body);
}

async function main(): Promise<void> {
  // postgres.js connects on the first query, after the database exists.
  const sql = postgres(run.databaseUrl, { max: 4, onnotice: () => undefined });
  let server: ChildProcess | undefined;
  try {
    await prepareBuiltServerRun(run);
    const customer = await findCustomerWithTwoAccounts(sql);
    // The session cookie is minted in this process, against the run's database (the same record a sign-in makes).
    const cookie = await mintCustomerSession(run, customer.ownerId);

    server = startBuiltServer(run);
    await waitForHealth(server, client);
    log(`server up on ${run.appOrigin} (pid ${server.pid}); ${concurrentClients} clients sending transfers`);

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
      async function sendTransfers(): Promise<void> {
        while (!serverKilled && Date.now() - loadStarted < loadMilliseconds) {
          const sent = randomTransfer(customer, "crash");
          sentByKey.set(sent.key, sent);
          try {
            const answer = await postTransfer(cookie, sent);
            if (answer.status === 201 || answer.status === 202) {
              acknowledgedByKey.set(sent.key, transferIdOf(answer));
              acknowledgedThisRound += 1;
              if (acknowledgedThisRound >= killAfter && !serverKilled) {
                serverKilled = true;
                signalGroup(runningServer, "SIGKILL");
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
      await Promise.all(Array.from({ length: concurrentClients }, () => sendTransfers()));
      if (!serverKilled) {
        serverKilled = true;
        signalGroup(server, "SIGKILL");
        log(`round ${round}: SIGKILL sent after the load time, with ${acknowledgedThisRound} acknowledged transfers`);
      }
      await exited(server);
      check(server.signalCode === "SIGKILL", `round ${round}: the server died of SIGKILL (no graceful shutdown)`);
      check(unexpectedAnswers.length === 0, `round ${round}: no answer other than 201/202 before the crash (${unexpectedAnswers.slice(0, 3).join("; ")})`);
      check(acknowledgedThisRound > 0, `round ${round}: transfers were acknowledged before the crash (${acknowledgedThisRound})`);
      log(`round ${round}: ${sentByKey.size} sent so far, ${acknowledgedByKey.size} acknowledged, ${unanswered.length} without an answer this round`);

      server = startBuiltServer(run);
      await waitForHealth(server, client);
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
        const first = await postTransfer(cookie, sent);
        const second = await postTransfer(cookie, sent);
        if (first.status !== 201 || second.status !== 201) {
          retryProblems.push(`${sent.key}: ${first.status}/${second.status}`);
          continue;
        }
        const firstId = transferIdOf(first);
        const secondId = transferIdOf(second);
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
        where initiated_by = ${customer.ownerId}::uuid and idempotency_key = any(${retriedKeys}::text[])
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
    await stopBuiltServer(server);
    client.agent.destroy();
    await sql.end({ timeout: 5 });
    await removeBuiltServerRun(run);
  }
}

async function checkInvariants(sql: postgres.Sql, when: string): Promise<void> {
  for (const invariant of await ledgerInvariants(sql)) check(invariant.holds, `${when}: ${invariant.description}`);
}

try {
  await main();
} catch (error) {
  failures.push(error instanceof Error ? (error.stack ?? error.message) : String(error));
  process.stderr.write(`${String(error instanceof Error ? (error.stack ?? error.message) : error)}\n`);
}
process.stdout.write(failures.length === 0 ? "\ncrash test passed\n" : `\ncrash test FAILED: ${failures.length} check(s)\n`);
process.exit(failures.length === 0 ? 0 : 1);
