/**
 * The ledger's benchmark (issue 6): how many transfers per second the posting service and the HTTP API take,
 * next to pgbench's TPC-B (the classic banking transaction) on the same PostgreSQL server.
 *
 *   npm run bench:ledger [-- --skip-http] [-- --seconds 8] [-- --sealing-only] [-- --blocks N]
 *
 * It creates its own databases (the ledger's, with 10,000 customers each holding one funded account and one
 * payee, and pgbench's), drops both at the end, and prints a markdown table for README. Figures:
 * - TPC-B: `pgbench -i -s 10`, then `pgbench -M prepared -c 8 -j 2 -T 15`; its tps and average latency.
 * - The posting service: `postCustomerTransfer` called in this process at 1, 8 and 32 concurrent clients,
 *   on uniformly chosen customers (each pays 0.01 to their payee: two accounts, the limits row, the audit
 *   event) and on one hot account (every client pays from the same account).
 * - Audit sealing: the posting service at 8 clients without the audit sealer and with it running every second
 *   (lib/audit/seal-audit-events.ts, as the app's timer does, with checkpoints), in blocks of four runs
 *   (off, on, on, off; `--blocks N`, by default six with --sealing-only and three otherwise), each run after a
 *   VACUUM and a CHECKPOINT with autovacuum held still; the mean of the blocks' ratios with its 95% confidence
 *   interval, and the sealer's CPU cost per event measured alone, as a share of a transfer's.
 *   `--sealing-only` runs just this comparison (after the same setup), without pgbench, HTTP or diagnosis.
 * - HTTP: the built app (`tsx server.ts`) with the per-IP and per-user limits raised through configuration,
 *   `POST /api/v1/transfers` beside `GET /api/v1/whoami`, both with a minted session cookie, by autocannon.
 *
 * Environment: BENCH_POSTGRES_ADMIN_URL (default postgres://postgres@127.0.0.1:5432/postgres), a role that may
 * create databases; BENCH_PORT (default 8551) for the app; pgbench on PATH.
 */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import autocannon from "autocannon";
import postgres from "postgres";

const execFileAsync = promisify(execFile);

const argumentsGiven = process.argv.slice(2);
const sealingOnly = argumentsGiven.includes("--sealing-only");
const skipHttp = argumentsGiven.includes("--skip-http") || sealingOnly;
const secondsIndex = argumentsGiven.indexOf("--seconds");
const runSeconds = secondsIndex >= 0 ? Number(argumentsGiven[secondsIndex + 1]) : 8;
const blocksIndex = argumentsGiven.indexOf("--blocks");
const sealingBlocks = blocksIndex >= 0 ? Number(argumentsGiven[blocksIndex + 1]) : sealingOnly ? 6 : 3;
if (!Number.isInteger(sealingBlocks) || sealingBlocks < 3 || sealingBlocks > 11) throw new Error("--blocks must be a whole number from 3 to 11 (two blocks give an interval too wide to say anything)");
const adminUrl = process.env.BENCH_POSTGRES_ADMIN_URL || "postgres://postgres@127.0.0.1:5432/postgres";
const appPort = Number(process.env.BENCH_PORT ?? 8551);
const customerCount = 10_000;
const openingBalanceMinor = 100_000n;

interface Measurement {
  label: string;
  clients: number;
  perSecond: number;
  p50Milliseconds: number | null;
  p99Milliseconds: number | null;
  /** Average latency, where only that is known (pgbench). */
  averageMilliseconds: number | null;
  /** CPU this Node process spent per second of the run, in cores (posting-service runs only). */
  nodeCores?: number;
  errors: number;
}

function percentile(sortedValues: readonly number[], fraction: number): number {
  if (sortedValues.length === 0) return Number.NaN;
  const index = Math.min(sortedValues.length - 1, Math.max(0, Math.ceil(fraction * sortedValues.length) - 1));
  return sortedValues[index] ?? Number.NaN;
}

function databaseUrl(name: string): string {
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

async function withDatabase<Result>(databaseName: string, work: (sql: postgres.Sql) => Promise<Result>): Promise<Result> {
  const sql = postgres(databaseUrl(databaseName), { max: 1, onnotice: () => undefined });
  try {
    return await work(sql);
  } finally {
    await sql.end({ timeout: 5 });
  }
}

/**
 * For the last diagnosis row only, in the bench's own throwaway database: every foreign key of transfers and
 * ledger entries, the CHECK constraints that are not balance rules, and the deferred trigger that checks each
 * transfer's entries sum to zero. A constant text: no value is spliced into it.
 */
const integrityAblationStatements = `
  alter table ledger_entries drop constraint ledger_entries_account_id_accounts_id_fk,
    drop constraint ledger_entries_transfer_id_transfers_id_fk, drop constraint ledger_entries_amount_not_zero;
  alter table transfers drop constraint transfers_credit_account_id_accounts_id_fk, drop constraint transfers_payee_id_payees_id_fk,
    drop constraint transfers_initiated_by_users_id_fk, drop constraint transfers_debit_account_id_accounts_id_fk,
    drop constraint transfers_decided_by_users_id_fk, drop constraint transfers_reverses_transfer_id_fk,
    drop constraint transfers_memo_length, drop constraint transfers_key_has_request_hash,
    drop constraint transfers_reversal_points_at_original, drop constraint transfers_posted_has_time,
    drop constraint transfers_distinct_accounts;
  alter table accounts drop constraint accounts_system_iff_no_owner, drop constraint accounts_system_purpose_iff_system,
    drop constraint accounts_owner_role_is_customer, drop constraint accounts_currency_iso,
    drop constraint accounts_account_number_format;
  alter table ledger_entries disable trigger ledger_entries_balanced;
  checkpoint;
`;

async function withAdmin<Result>(work: (sql: postgres.Sql) => Promise<Result>): Promise<Result> {
  const sql = postgres(adminUrl, { max: 1, onnotice: () => undefined });
  try {
    return await work(sql);
  } finally {
    await sql.end({ timeout: 5 });
  }
}

/** pgbench's connection options from the admin URL (its password, if any, through PGPASSWORD). */
function pgbenchConnection(): { options: string[]; environment: NodeJS.ProcessEnv } {
  const url = new URL(adminUrl);
  const options = ["-h", url.hostname, "-p", url.port || "5432", "-U", decodeURIComponent(url.username || "postgres")];
  const environment = { ...process.env, ...(url.password ? { PGPASSWORD: decodeURIComponent(url.password) } : {}) };
  return { options, environment };
}

async function measureTpcB(databaseName: string): Promise<Measurement> {
  const connection = pgbenchConnection();
  console.log("TPC-B: pgbench -i -s 10 ...");
  await execFileAsync("pgbench", [...connection.options, "-i", "-s", "10", "-q", databaseName], { env: connection.environment, maxBuffer: 1 << 24 });
  console.log("TPC-B: pgbench -M prepared -c 8 -j 2 -T 15 ...");
  const { stdout } = await execFileAsync("pgbench", [...connection.options, "-M", "prepared", "-c", "8", "-j", "2", "-T", "15", databaseName], {
    env: connection.environment,
    maxBuffer: 1 << 24,
  });
  const tps = /tps = ([0-9.]+)/.exec(stdout);
  const latency = /latency average = ([0-9.]+) ms/.exec(stdout);
  const failed = /number of failed transactions: (\d+)/.exec(stdout);
  if (!tps?.[1]) throw new Error(`could not read pgbench's tps from:\n${stdout}`);
  return {
    label: "pgbench TPC-B (-M prepared)",
    clients: 8,
    perSecond: Number(tps[1]),
    p50Milliseconds: null,
    p99Milliseconds: null,
    averageMilliseconds: latency?.[1] ? Number(latency[1]) : null,
    errors: failed?.[1] ? Number(failed[1]) : 0,
  };
}

/** A bench-only lookup table in the ledger's database (customer number -> ids), for pgbench's script. */
async function createBenchCustomersTable(
  databaseName: string,
  customerIds: readonly string[],
  accountIds: readonly string[],
  payeeIds: readonly string[],
): Promise<void> {
  const sql = postgres(databaseUrl(databaseName), { max: 1, onnotice: () => undefined });
  try {
    await sql`create table bench_customers (number integer primary key, user_id uuid not null, account_id uuid not null, payee_id uuid not null)`;
    const rows = customerIds.map((userId, index) => ({ number: index + 1, user_id: userId, account_id: accountIds[index] ?? "", payee_id: payeeIds[index] ?? "" }));
    for (let start = 0; start < rows.length; start += 1000) await sql`insert into bench_customers ${sql(rows.slice(start, start + 1000))}`;
  } finally {
    await sql.end({ timeout: 5 });
  }
}

/**
 * The posting function alone, called by pgbench's C client (8 clients, prepared), on the same uniformly chosen
 * customers: the ceiling the database side allows. The gap between this and the service row is what Node,
 * the driver and the service add; the gap between this and TPC-B is what the function body costs.
 */
async function measureFunctionThroughPgbench(databaseName: string, numberOfCustomers: number, label: string): Promise<Measurement> {
  const scriptPath = path.join(os.tmpdir(), `bench-ledger-${crypto.randomBytes(4).toString("hex")}.sql`);
  fs.writeFileSync(
    scriptPath,
    [
      `\\set number random(1, ${numberOfCustomers})`,
      "SELECT (ledger_post_transfer(gen_random_uuid(), c.user_id, gen_random_uuid()::text, 'bench', c.account_id, NULL, c.payee_id,",
      "  1, NULL, NULL, 'bench', now(), 100000, 250000, 2500000, 2500000, 86400, 300, '127.0.0.1', 'pgbench')).outcome",
      "  FROM bench_customers c WHERE c.number = :number;",
      "",
    ].join("\n"),
  );
  try {
    const connection = pgbenchConnection();
    console.log(`${label}: pgbench -M prepared -c 8 -j 2 -T 15 ...`);
    const { stdout } = await execFileAsync("pgbench", [...connection.options, "-n", "-M", "prepared", "-c", "8", "-j", "2", "-T", "15", "-f", scriptPath, databaseName], {
      env: connection.environment,
      maxBuffer: 1 << 24,
    });
    const tps = /tps = ([0-9.]+)/.exec(stdout);
    const latency = /latency average = ([0-9.]+) ms/.exec(stdout);
    const failed = /number of failed transactions: (\d+)/.exec(stdout);
    if (!tps?.[1]) throw new Error(`could not read pgbench's tps from:\n${stdout}`);
    return {
      label,
      clients: 8,
      perSecond: Number(tps[1]),
      p50Milliseconds: null,
      p99Milliseconds: null,
      averageMilliseconds: latency?.[1] ? Number(latency[1]) : null,
      errors: failed?.[1] ? Number(failed[1]) : 0,
    };
  } finally {
    fs.rmSync(scriptPath, { force: true });
  }
}

/** Two-sided 95% quantiles of Student's t for 1 to 10 degrees of freedom (`--blocks` allows 3 to 11). */
const studentT95 = [Number.NaN, 12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228];

/** The mean of independent samples and its 95% confidence interval. */
function meanWithConfidenceInterval(samples: readonly number[]): { mean: number; lower: number; upper: number } {
  const mean = samples.reduce((sum, value) => sum + value, 0) / samples.length;
  const variance = samples.reduce((sum, value) => sum + (value - mean) ** 2, 0) / Math.max(1, samples.length - 1);
  const halfWidth = (studentT95[samples.length - 1] ?? 2) * Math.sqrt(variance / samples.length);
  return { mean, lower: mean - halfWidth, upper: mean + halfWidth };
}

/** What a confidence interval of (with the sealer / without) says, in words. */
function sealingVerdict(interval: { lower: number; upper: number }): string {
  const percentBelowOne = (ratio: number) => `${(100 * (1 - ratio)).toFixed(1)}%`;
  const percentAboveOne = (ratio: number) => `${(100 * (ratio - 1)).toFixed(1)}%`;
  if (interval.upper < 1) return `a drop of ${percentBelowOne(interval.upper)} to ${percentBelowOne(interval.lower)}`;
  if (interval.lower > 1) return `faster with the sealer, by ${percentAboveOne(interval.lower)} to ${percentAboveOne(interval.upper)}`;
  return `no drop detected (any drop is at most ${percentBelowOne(interval.lower)})`;
}

async function main(): Promise<void> {
  const suffix = crypto.randomBytes(4).toString("hex");
  const ledgerDatabase = `bench_ledger_${suffix}`;
  const pgbenchDatabase = `bench_pgbench_${suffix}`;
  const temporaryRoot = fs.mkdtempSync(path.join(os.tmpdir(), "bench-ledger-"));
  const measurements: Measurement[] = [];
  let server: ChildProcess | undefined;
  let httpNote = "";
  let sealingSummary = "";

  await withAdmin(async (sql) => {
    await sql`create database ${sql(ledgerDatabase)} template template0 encoding 'UTF8'`;
    await sql`create database ${sql(pgbenchDatabase)} template template0 encoding 'UTF8'`;
  });

  try {
    // The application reads its configuration once, on first use: everything is set before it is imported.
    const authSecret = crypto.randomBytes(36).toString("base64url");
    const keyringPath = path.join(temporaryRoot, "keys", "keyring.json");
    for (const name of ["REDIS_URL", "KEY_PROVIDER", "PKCS11_MODULE", "SMTP_URL"]) Reflect.deleteProperty(process.env, name);
    Object.assign(process.env, {
      DATABASE_URL: databaseUrl(ledgerDatabase),
      DATA_DIR: path.join(temporaryRoot, "data"),
      KEYRING_PATH: keyringPath,
      KEY_PROVIDER: "local",
      AUTH_SECRET: authSecret,
      LOG_LEVEL: "warn",
    });
    const { createKeyringFile } = await import("@/lib/crypto/keyring-format");
    await createKeyringFile(keyringPath);

    const { openDatabase, closeDatabase, database } = await import("@/db/client");
    const { env } = await import("@/lib/env");
    // The process-wide handle is opened here with a pool big enough for 32 concurrent clients (the app's
    // default is 10); the services below find it on globalThis and use it.
    const globalForDatabase = globalThis as typeof globalThis & { bankDatabaseHandle?: ReturnType<typeof openDatabase> };
    globalForDatabase.bankDatabaseHandle = openDatabase({ databaseUrl: env().databaseUrl, pgliteDirectory: "unused", maxConnections: 40 });

    const { applyMigrations } = await import("@/db/migrations");
    const { accounts, payees, users } = await import("@/db/schema");
    const { randomAccountNumber } = await import("@/lib/accounts/open-account");
    const { bankCurrency } = await import("@/lib/accounts/bank-currency");
    const { systemActor } = await import("@/lib/auth/actor");
    const { blindIndex, encryptField } = await import("@/lib/crypto");
    const { postSystemDeposit } = await import("@/lib/ledger/post-system-deposit");
    const { systemAccountId } = await import("@/lib/ledger/system-accounts");
    const { postCustomerTransfer } = await import("@/lib/ledger/post-transfer");
    const { parseTransferRequest } = await import("@/lib/validation/transfer");

    await applyMigrations(globalForDatabase.bankDatabaseHandle);

    console.log(`Creating ${customerCount} customers, each with one funded account and one payee ...`);
    const customerIds: string[] = [];
    const accountIds: string[] = [];
    const batchSize = 500;
    for (let start = 0; start < customerCount; start += batchSize) {
      const userRows = [];
      const accountRows = [];
      for (let index = start; index < Math.min(customerCount, start + batchSize); index += 1) {
        const id = crypto.randomUUID();
        const email = `bench-${index}@example.com`;
        userRows.push({
          id,
          role: "customer" as const,
          emailCiphertext: await encryptField(email, { table: "users", column: "email", rowId: id }),
          emailBlindIndex: await blindIndex("email", email),
          legalNameCiphertext: await encryptField(`Bench Customer ${index}`, { table: "users", column: "legal_name", rowId: id }),
          passwordHash: "no-password",
          emailVerifiedAt: new Date(),
          termsAcceptedAt: new Date(),
        });
        const accountId = crypto.randomUUID();
        accountRows.push({
          id: accountId,
          ownerId: id,
          ownerRole: "customer" as const,
          kind: "checking" as const,
          accountNumber: randomAccountNumber(),
          currency: bankCurrency,
          nickname: "Checking",
        });
        customerIds.push(id);
        accountIds.push(accountId);
      }
      await database().insert(users).values(userRows);
      await database().insert(accounts).values(accountRows).onConflictDoNothing();
    }
    const fundingAccountId = await systemAccountId(database(), "funding");
    const deposit = systemActor("bench-funding");
    let nextToFund = 0;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        for (let index = nextToFund++; index < accountIds.length; index = nextToFund++) {
          const customerAccountId = accountIds[index];
          if (customerAccountId) await postSystemDeposit(deposit, { fundingAccountId, customerAccountId, amountMinor: openingBalanceMinor });
        }
      }),
    );
    // Each customer pays one other customer (the next one round the ring), saved long enough ago that no
    // first-payment confirmation is needed.
    const payeeIds: string[] = [];
    for (let start = 0; start < customerCount; start += batchSize) {
      const rows = [];
      for (let index = start; index < Math.min(customerCount, start + batchSize); index += 1) {
        const id = crypto.randomUUID();
        rows.push({
          id,
          ownerId: customerIds[index] ?? "",
          accountId: accountIds[(index + 1) % customerCount] ?? "",
          nameCiphertext: await encryptField("Bench Payee", { table: "payees", column: "name", rowId: id }),
          matchResult: "exact_match" as const,
          createdAt: new Date(Date.now() - 3 * 86_400_000),
        });
        payeeIds.push(id);
      }
      await database().insert(payees).values(rows);
    }
    console.log("Ledger ready.");

    if (!sealingOnly) {
      measurements.push(await measureTpcB(pgbenchDatabase));
      await createBenchCustomersTable(ledgerDatabase, customerIds, accountIds, payeeIds);
      measurements.push(await measureFunctionThroughPgbench(ledgerDatabase, customerCount, "ledger_post_transfer via pgbench (-M prepared)"));
    }

    const runService = async (label: string, clients: number, pickCustomer: () => number): Promise<Measurement> => {
      const latencies: number[] = [];
      let errors = 0;
      const deadline = performance.now() + runSeconds * 1000;
      const started = performance.now();
      const cpuBefore = process.cpuUsage();
      await Promise.all(
        Array.from({ length: clients }, async () => {
          while (performance.now() < deadline) {
            const index = pickCustomer();
            const userId = customerIds[index] ?? "";
            const request = parseTransferRequest({
              idempotencyKey: crypto.randomUUID(),
              memo: "",
              fromAccountId: accountIds[index],
              to: { kind: "payee", payeeId: payeeIds[index] },
              amount: "0.01",
            });
            const before = performance.now();
            try {
              await postCustomerTransfer(
                { kind: "customer", role: "customer", userId, ipAddress: "127.0.0.1", userAgent: "bench", sessionId: null },
                request,
              );
              latencies.push(performance.now() - before);
            } catch (error) {
              errors += 1;
              if (errors <= 3) console.error(label, error);
            }
          }
        }),
      );
      const elapsedSeconds = (performance.now() - started) / 1000;
      const cpu = process.cpuUsage(cpuBefore);
      latencies.sort((left, right) => left - right);
      return {
        label,
        clients,
        perSecond: latencies.length / elapsedSeconds,
        p50Milliseconds: percentile(latencies, 0.5),
        p99Milliseconds: percentile(latencies, 0.99),
        averageMilliseconds: null,
        errors,
        nodeCores: (cpu.user + cpu.system) / 1e6 / elapsedSeconds,
      };
    };

    for (const clients of sealingOnly ? [] : [1, 8, 32]) {
      console.log(`Posting service, uniform customers, ${clients} clients, ${runSeconds} s ...`);
      measurements.push(await runService("postCustomerTransfer, uniform accounts", clients, () => crypto.randomInt(customerCount)));
    }

    // Audit sealing against the same load: off and on (every second, with checkpoints), in blocks (below), so
    // that table growth and cache state affect both sides alike. Each run starts from the same state: the
    // backlog of earlier runs sealed, the tables vacuumed and a PostgreSQL CHECKPOINT taken, outside the
    // timing. Without the CHECKPOINT, whichever run a timed checkpoint (and the full-page writes after it)
    // fell into lost up to a fifth of its throughput, a larger effect than the one measured here. Beside the
    // blocks' ratios, the summary gives the sealer's cost measured directly: the CPU time to seal one run's
    // events on an otherwise idle machine, as a share of the CPU those transfers took.
    {
      const { sealAuditEvents, writeAuditCheckpointIfDue } = await import("@/lib/audit/seal-audit-events");
      const { executeRows } = await import("@/db/client");
      const { sql: drizzleSql } = await import("drizzle-orm");
      const sealBacklog = async () => {
        const result = await sealAuditEvents(database(), { waitTimeoutMilliseconds: 60_000 });
        if (result.outcome !== "sealed") throw new Error(`sealing the backlog: ${result.outcome}`);
        await writeAuditCheckpointIfDue(database(), "now");
        return result.sealedEvents;
      };
      // Autovacuum is held still on the tables every transfer writes, and they are vacuumed before each run
      // instead: otherwise autovacuum starts whenever a table crosses its threshold, inside whichever run that
      // happens to be, and takes CPU from it alone.
      const tablesTransfersWrite = ["accounts", "customer_limits", "transfers", "ledger_entries", "audit_events", "audit_chain_links"];
      await withDatabase(ledgerDatabase, async (sql) => {
        for (const table of tablesTransfersWrite) await sql`alter table ${sql(table)} set (autovacuum_enabled = false)`;
      });
      const startFromTheSameState = async () => {
        await sealBacklog();
        await withDatabase(ledgerDatabase, async (sql) => {
          await sql`vacuum ${sql(tablesTransfersWrite)}`;
          await sql`checkpoint`;
        });
      };
      const uniform = () => crypto.randomInt(customerCount);
      const runWithoutSealer = async (round: number) => {
        await startFromTheSameState();
        console.log(`Audit sealing: posting service without the sealer (round ${round}), 8 clients, ${runSeconds} s ...`);
        return runService(`postCustomerTransfer, uniform, sealer off (round ${round})`, 8, uniform);
      };
      let sealedDuringRuns = 0;
      let sealerRuns = 0;
      let unsealedAtEnds = "";
      const runWithSealer = async (round: number) => {
        await startFromTheSameState();
        console.log(`Audit sealing: posting service with the sealer every second (round ${round}), 8 clients, ${runSeconds} s ...`);
        let sealerRunning = true;
        const sealer = (async () => {
          while (sealerRunning) {
            await new Promise((resolve) => setTimeout(resolve, 1000));
            const result = await sealAuditEvents(database(), { waitTimeoutMilliseconds: 5_000 });
            sealedDuringRuns += result.sealedEvents;
            sealerRuns += 1;
            await writeAuditCheckpointIfDue(database(), { everyEvents: 10_000, everySeconds: 60 });
          }
        })();
        const measurement = await runService(`postCustomerTransfer, uniform, sealer every 1 s (round ${round})`, 8, uniform);
        sealerRunning = false;
        await sealer;
        const [lag] = await executeRows<{ unsealed: string }>(
          database(),
          drizzleSql`SELECT count(*)::text AS unsealed FROM audit_events
                      WHERE sequence > coalesce((SELECT max(sequence) FROM audit_chain_links), 0)`,
        );
        unsealedAtEnds += `${unsealedAtEnds ? ", " : ""}${lag?.unsealed ?? "?"}`;
        return measurement;
      };
      // A first run warms caches and the new tables up and is not counted (in a sealing-only run it is the first
      // load of all).
      if (sealingOnly) {
        console.log(`Audit sealing: warm-up, 8 clients, ${runSeconds} s (not counted) ...`);
        await runService("warm-up", 8, uniform);
      }
      // Blocks of four runs in the order off, on, on, off: a drift that grows steadily through the block (tables
      // and indexes growing, caches filling) falls on both sides alike, which simple alternation does not give.
      // Each block yields one ratio (sum with the sealer / sum without), and the blocks are independent samples
      // of it: their mean and a 95% confidence interval (Student's t) say how large a drop the runs can rule out.
      const blocks = sealingBlocks;
      const without: Measurement[] = [];
      const withSealer: Measurement[] = [];
      const ratios: number[] = [];
      for (let block = 1; block <= blocks; block += 1) {
        const firstWithout = await runWithoutSealer(block);
        const firstWith = await runWithSealer(block);
        const secondWith = await runWithSealer(block);
        const secondWithout = await runWithoutSealer(block);
        without.push(firstWithout, secondWithout);
        withSealer.push(firstWith, secondWith);
        ratios.push((firstWith.perSecond + secondWith.perSecond) / (firstWithout.perSecond + secondWithout.perSecond));
      }
      measurements.push(...without, ...withSealer);
      const interval = meanWithConfidenceInterval(ratios);

      // The direct measure: one more run without the sealer, then its events sealed alone. Sealing is one
      // connection doing one thing at a time, so its wall time is its CPU time (Node's and the backend's);
      // the transfers kept this machine's cores busy for the run's length.
      await startFromTheSameState();
      console.log(`Audit sealing: one run without the sealer, then its events sealed alone, ${runSeconds} s ...`);
      const costRun = await runService("postCustomerTransfer, uniform, events then sealed alone (cost)", 8, uniform);
      const sealStarted = performance.now();
      const eventsSealedAlone = await sealBacklog();
      const sealSeconds = (performance.now() - sealStarted) / 1000;
      // The rows after the comparison run as before it, with autovacuum on again.
      await withDatabase(ledgerDatabase, async (sql) => {
        for (const table of tablesTransfersWrite) await sql`alter table ${sql(table)} reset (autovacuum_enabled)`;
      });
      const cores = os.availableParallelism();
      const transferCpuMicroseconds = (cores * 1e6) / costRun.perSecond;
      const sealMicroseconds = (sealSeconds * 1e6) / Math.max(1, eventsSealedAlone);
      const verdict = sealingVerdict(interval);
      sealingSummary =
        `Audit sealing: with the sealer / without, ${ratios.length} blocks (off, on, on, off): mean ${interval.mean.toFixed(3)}, ` +
        `95% confidence interval ${interval.lower.toFixed(3)} to ${interval.upper.toFixed(3)}: ${verdict}. ` +
        `Block ratios: ${ratios.map((ratio) => ratio.toFixed(3)).join(", ")}.\n` +
        `${sealedDuringRuns} events sealed in ${sealerRuns} sealer runs during the runs with it, not yet sealed at their ends: ${unsealedAtEnds}.\n` +
        `Audit sealing cost, measured alone: ${eventsSealedAlone} events sealed in ${sealSeconds.toFixed(2)} s ` +
        `(${sealMicroseconds.toFixed(0)} µs each, including checkpoint and commit); a transfer took ${transferCpuMicroseconds.toFixed(0)} µs ` +
        `of the machine's ${cores} cores, so sealing costs the writers at most ${((100 * sealMicroseconds) / transferCpuMicroseconds).toFixed(1)}%.`;
    }
    // Diagnosis: drizzle's `execute` sends every raw statement unprepared (postgres.js `prepare: false`), so
    // PostgreSQL parses and plans the call each time. The same call through postgres.js with a prepared
    // statement, and nothing else of the service, shows what that costs.
    for (const prepare of sealingOnly ? [] : [true, false]) {
      const direct = postgres(databaseUrl(ledgerDatabase), { max: 40, prepare, onnotice: () => undefined });
      try {
        const latencies: number[] = [];
        const deadline = performance.now() + runSeconds * 1000;
        const started = performance.now();
        await Promise.all(
          Array.from({ length: 8 }, async () => {
            while (performance.now() < deadline) {
              const index = crypto.randomInt(customerCount);
              const before = performance.now();
              await direct`select outcome from ledger_post_transfer(${crypto.randomUUID()}::uuid, ${customerIds[index] ?? ""}::uuid,
                ${crypto.randomUUID()}, ${"bench"}, ${accountIds[index] ?? ""}::uuid, ${null}::uuid, ${payeeIds[index] ?? ""}::uuid,
                ${"1"}::bigint, ${null}, ${null}::uuid, ${"bench"}, ${new Date().toISOString()}::timestamptz,
                ${"100000"}::bigint, ${"250000"}::bigint, ${"2500000"}::bigint, ${"2500000"}::bigint, ${86400}::integer, ${300}::integer,
                ${"127.0.0.1"}, ${"bench"})`;
              latencies.push(performance.now() - before);
            }
          }),
        );
        const elapsedSeconds = (performance.now() - started) / 1000;
        latencies.sort((left, right) => left - right);
        measurements.push({
          label: `ledger_post_transfer via postgres.js, ${prepare ? "prepared" : "unprepared"} (diagnosis)`,
          clients: 8,
          perSecond: latencies.length / elapsedSeconds,
          p50Milliseconds: percentile(latencies, 0.5),
          p99Milliseconds: percentile(latencies, 0.99),
          averageMilliseconds: null,
          errors: 0,
        });
      } finally {
        await direct.end({ timeout: 5 });
      }
    }
    for (const clients of sealingOnly ? [] : [1, 8, 32]) {
      console.log(`Posting service, one hot account, ${clients} clients, ${runSeconds} s ...`);
      measurements.push(await runService("postCustomerTransfer, one hot account", clients, () => 0));
    }

    if (skipHttp) {
      httpNote = "HTTP part skipped (--skip-http).";
    } else {
      const { mintSessionCookie } = await import("../tests/helpers/session-cookie");
      // The signed-in customer moves 0.01 between two of their own accounts, as the API contract's example.
      const httpCustomerIndex = 1;
      const httpUserId = customerIds[httpCustomerIndex] ?? "";
      const fromAccountId = accountIds[httpCustomerIndex] ?? "";
      const toAccountId = crypto.randomUUID();
      await database().insert(accounts).values({
        id: toAccountId,
        ownerId: httpUserId,
        ownerRole: "customer",
        kind: "savings",
        accountNumber: randomAccountNumber(),
        currency: bankCurrency,
        nickname: "Savings",
      });
      const session = await mintSessionCookie(database(), { userId: httpUserId, authSecret, idleTimeoutSeconds: 3600 });
      const started = await startApp({ temporaryRoot, authSecret, keyringPath, databaseName: ledgerDatabase });
      server = started.server;
      httpNote = started.note;
      const origin = `https://localhost:${appPort}`;
      const transferBody = JSON.stringify({ fromAccountId, to: { kind: "own_account", accountId: toAccountId }, amount: "0.01" });
      const httpClients = 8;
      const whoami = await drive({
        label: "GET /api/v1/whoami",
        url: `${origin}/api/v1/whoami`,
        clients: httpClients,
        expectedStatus: 200,
        cookieHeader: session.cookieHeader,
        origin,
      });
      const transfer = await drive({
        label: "POST /api/v1/transfers",
        url: `${origin}/api/v1/transfers`,
        clients: httpClients,
        expectedStatus: 201,
        cookieHeader: session.cookieHeader,
        origin,
        body: transferBody,
      });
      measurements.push(whoami, transfer);
    }

    await closeDatabase();

    // Diagnosis of the database side, on the tables as every run above left them: the function again (so that
    // the first pgbench row's fresh tables are not mistaken for a difference), and then once more with the
    // integrity the database enforces switched off in this throwaway database — the foreign keys of transfers
    // and ledger entries, the CHECK constraints other than the balance rules, and the deferred balance
    // trigger. The bank never runs like that; the row shows what that integrity costs per transfer.
    if (!sealingOnly) {
      measurements.push(await measureFunctionThroughPgbench(ledgerDatabase, customerCount, "ledger_post_transfer via pgbench, again after the runs above (diagnosis)"));
      await withDatabase(ledgerDatabase, async (sql) => {
        await sql.unsafe(integrityAblationStatements).simple();
      });
      measurements.push(
        await measureFunctionThroughPgbench(ledgerDatabase, customerCount, "ledger_post_transfer via pgbench, FKs, CHECKs and balance trigger removed (diagnosis)"),
      );
    }
  } finally {
    if (server?.pid !== undefined) {
      process.kill(-server.pid, "SIGTERM");
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
    await withAdmin(async (sql) => {
      await sql`drop database if exists ${sql(ledgerDatabase)} with (force)`;
      await sql`drop database if exists ${sql(pgbenchDatabase)} with (force)`;
    });
    fs.rmSync(temporaryRoot, { recursive: true, force: true });
  }

  printTable(measurements, httpNote);
  if (sealingSummary) console.log(sealingSummary);
}

async function startApp(options: { temporaryRoot: string; authSecret: string; keyringPath: string; databaseName: string }): Promise<{ server: ChildProcess; note: string }> {
  if (!fs.existsSync(path.join(process.cwd(), ".next", "BUILD_ID"))) {
    console.log("No build found: NODE_ENV=production npx next build ...");
    await execFileAsync("npx", ["next", "build"], { env: { ...process.env, NODE_ENV: "production" }, maxBuffer: 1 << 26 });
  }
  const tlsDirectory = path.join(options.temporaryRoot, "tls");
  fs.mkdirSync(tlsDirectory, { recursive: true, mode: 0o700 });
  await execFileAsync("openssl", [
    "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2", "-subj", "/CN=localhost",
    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
    "-keyout", path.join(tlsDirectory, "key.pem"), "-out", path.join(tlsDirectory, "cert.pem"),
  ]);
  const raisedLimits = { RATE_LIMIT_API_PER_HOUR: "100000000", RATE_LIMIT_API_PER_DAY: "100000000", RATE_LIMIT_USER_ACTIONS_PER_HOUR: "100000000" };
  const note = `The app ran with raised limits: ${Object.entries(raisedLimits).map(([name, value]) => `${name}=${value}`).join(", ")}.`;
  console.log(note);
  const environment: NodeJS.ProcessEnv = {
    ...process.env,
    ...raisedLimits,
    NODE_ENV: "production",
    ALLOW_EMBEDDED: "1",
    DATABASE_URL: databaseUrl(options.databaseName),
    AUTH_SECRET: options.authSecret,
    KEYRING_PATH: options.keyringPath,
    KEY_PROVIDER: "local",
    DATA_DIR: path.join(options.temporaryRoot, "data"),
    APP_ORIGIN: `https://localhost:${appPort}`,
    PORT: String(appPort),
    HTTP_PORT: String(appPort + 1),
    TLS_CERT_PATH: path.join(tlsDirectory, "cert.pem"),
    TLS_KEY_PATH: path.join(tlsDirectory, "key.pem"),
    LOG_LEVEL: "warn",
  };
  Reflect.deleteProperty(environment, "REDIS_URL");
  // Its own process group, so that stopping it stops npx's children (tsx and the server) too.
  const server = spawn("npx", ["tsx", "server.ts"], { env: environment, stdio: ["ignore", "pipe", "inherit"], detached: true });
  await new Promise<void>((resolve, reject) => {
    const timeout = setTimeout(() => reject(new Error("the app did not become ready within 60 s")), 60_000);
    server.stdout?.on("data", (chunk: Buffer) => {
      if (chunk.toString("utf8").includes("ready:")) {
        clearTimeout(timeout);
        resolve();
      }
    });
    server.once("exit", (code) => reject(new Error(`the app exited with ${String(code)}`)));
  });
  return { server, note };
}

async function drive(options: {
  label: string;
  url: string;
  clients: number;
  expectedStatus: number;
  cookieHeader: string;
  origin: string;
  body?: string;
}): Promise<Measurement> {
  console.log(`${options.label}: autocannon, ${options.clients} connections, 10 s ...`);
  const unexpected = new Map<number, number>();
  const result = await autocannon({
    url: options.url,
    connections: options.clients,
    duration: 10,
    method: options.body === undefined ? "GET" : "POST",
    headers: {
      cookie: options.cookieHeader,
      origin: options.origin,
      ...(options.body === undefined ? {} : { "content-type": "application/json" }),
    },
    ...(options.body === undefined ? {} : { body: options.body }),
    // Every transfer carries a fresh idempotency key; a repeated key would only measure the replay path.
    requests: [
      {
        setupRequest: (request) => ({
          ...request,
          headers: { ...request.headers, ...(options.body === undefined ? {} : { "idempotency-key": crypto.randomUUID() }) },
        }),
        onResponse: (status) => {
          if (status !== options.expectedStatus) unexpected.set(status, (unexpected.get(status) ?? 0) + 1);
        },
      },
    ],
  });
  if (unexpected.size > 0) console.error(`${options.label}: unexpected statuses`, Object.fromEntries(unexpected));
  const unexpectedCount = [...unexpected.values()].reduce((sum, count) => sum + count, 0);
  return {
    label: `${options.label} (HTTPS, autocannon)`,
    clients: options.clients,
    perSecond: (result.requests.total - unexpectedCount - result.errors) / result.duration,
    p50Milliseconds: result.latency.p50,
    p99Milliseconds: result.latency.p99,
    averageMilliseconds: null,
    errors: unexpectedCount + result.errors + result.timeouts,
  };
}

function printTable(measurements: readonly Measurement[], httpNote: string): void {
  const tpcB = measurements.find((measurement) => measurement.label.startsWith("pgbench"));
  const whoami = measurements.find((measurement) => measurement.label.startsWith("GET /api/v1/whoami"));
  const format = (value: number | null, digits = 1) => (value === null || Number.isNaN(value) ? "–" : value.toFixed(digits));
  const cpus = os.cpus();
  console.log("");
  console.log(`Machine: ${cpus.length} × ${cpus[0]?.model ?? "unknown CPU"}, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB, ${os.type()} ${os.release()}; PostgreSQL on 127.0.0.1, same machine.`);
  console.log(`Each posting-service run lasted ${runSeconds} s; amounts 0.01; ${customerCount} customers.`);
  if (httpNote) console.log(httpNote);
  console.log("");
  console.log("| What | Clients | Per second | p50 ms | p99 ms | Errors | × TPC-B | Node CPU (cores) |");
  console.log("|---|---:|---:|---:|---:|---:|---:|---:|");
  for (const measurement of measurements) {
    const latency50 = measurement.p50Milliseconds ?? null;
    const p50 = latency50 === null && measurement.averageMilliseconds !== null ? `${format(measurement.averageMilliseconds, 2)} (avg)` : format(latency50, 2);
    const ratio = tpcB ? (measurement.perSecond / tpcB.perSecond).toFixed(2) : "–";
    console.log(`| ${measurement.label} | ${measurement.clients} | ${format(measurement.perSecond)} | ${p50} | ${format(measurement.p99Milliseconds, 2)} | ${measurement.errors} | ${ratio} | ${format(measurement.nodeCores ?? null, 2)} |`);
  }
  const transfer = measurements.find((measurement) => measurement.label.startsWith("POST /api/v1/transfers"));
  if (transfer && whoami) {
    console.log("");
    console.log(`HTTP transfer / whoami: ${(transfer.perSecond / whoami.perSecond).toFixed(2)} (target ≥ 0.6)`);
  }
  const atEight = measurements.find((measurement) => measurement.label === "postCustomerTransfer, uniform accounts" && measurement.clients === 8);
  if (atEight && tpcB) console.log(`Posting service at 8 clients / TPC-B: ${(atEight.perSecond / tpcB.perSecond).toFixed(2)} (target ≥ 0.8)`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
