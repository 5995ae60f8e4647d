/**
 * The deployment's benchmark (issue 10): throughput through nginx (TLS, ModSecurity with the OWASP CRS) with
 * one app instance and with two, in the same run, and where the CPU goes.
 *
 *   npm run bench:deploy [-- --seconds 10] [-- --connections 16] [-- --rounds 2]
 *
 * The instance counts alternate (one, two, one, two, ... for --rounds rounds), so that a change in what else
 * the machine is doing does not fall on one of them only; the ratio is of the medians over the rounds. For each
 * instance count it starts the real topology with `./run.sh stack` (nginx from docker/nginx, the
 * custom server, the stack's private PostgreSQL and Redis, all over TLS, and a SoftHSM2 token; STACK_APP_PORTS
 * names one port, then two), signs in
 * the demo customer alice through nginx with the real forms (password, then authenticator code), and drives
 * with autocannon, over HTTPS through nginx:
 * - a page: GET / (the signed-in customer's accounts page, rendered per request), and
 * - POST /api/v1/transfers: 0.01 between alice's two accounts, each with a fresh idempotency key.
 * Around each measurement it reads /proc/<pid>/stat (user + system time) of nginx's processes, each app
 * instance, the PostgreSQL backends of the bench's database, the rest of the PostgreSQL cluster, Redis and this
 * process (the load generator, which shares the machine), and /proc/stat for the whole machine, and prints
 * them as cores used (CPU seconds per second). "other" is whatever else ran on the machine meanwhile.
 *
 * The per-client limits would refuse a benchmark within a second (that is their job), so this run raises
 * them through configuration, the same way an operator would, and prints what it raised. Nothing else differs
 * from `./run.sh stack`.
 *
 * Environment: BENCH_DEPLOY_PORT (default 9700: nginx on it, HTTP redirect on +1, instances on +10 and +12,
 * the stack's PostgreSQL on +20, Redis on +21, metrics on +22 and +23). Everything lives in a temporary folder,
 * removed at the end.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import autocannon from "autocannon";
import { type CookieJar, type Person, request, signIn } from "../tests/deploy/support";

const repositoryRoot = path.resolve(import.meta.dirname, "..");
const argumentsGiven = process.argv.slice(2);
function numberArgument(name: string, fallback: number): number {
  const index = argumentsGiven.indexOf(name);
  const value = index >= 0 ? Number(argumentsGiven[index + 1]) : fallback;
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} needs a positive number`);
  return value;
}
const measureSeconds = numberArgument("--seconds", 10);
const connections = numberArgument("--connections", 16);
const rounds = numberArgument("--rounds", 2);
const warmUpSeconds = 3;

const nginxPort = Number(process.env.BENCH_DEPLOY_PORT ?? 9700);
const instancePorts = [nginxPort + 10, nginxPort + 12];
const publicOrigin = `https://localhost:${nginxPort}`;
const publicHost = `localhost:${nginxPort}`;
const runName = `bank_bench_deploy_${crypto.randomBytes(3).toString("hex")}`;
const rateLimitPrefix = "bank-bench-deploy:rate-limit";
const temporaryRoot = fs.mkdtempSync(path.join(os.tmpdir(), "bank-bench-deploy-"));
const dataDirectory = path.join(temporaryRoot, "data");
const stackDirectory = path.join(temporaryRoot, "stack");
const clockTicksPerSecond = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim());

// The limits a benchmark would hit within a second, raised for this run only (and printed). nginx's outer
// flood limit is raised too but stays in the path, so its cost is measured.
const raisedLimits = {
  RATE_LIMIT_API_PER_HOUR: "100000000",
  RATE_LIMIT_API_PER_DAY: "100000000",
  RATE_LIMIT_USER_ACTIONS_PER_HOUR: "100000000",
  RATE_LIMIT_PAGE_VIEWS_PER_HOUR: "100000000",
  RATE_LIMIT_SESSION_STATUS_PER_HOUR: "100000000",
  NGINX_LIMIT_REQ_RATE: "100000",
  NGINX_LIMIT_REQ_BURST: "100000",
} as const;

// ---------------------------------------------------------------------------------------------------------
// CPU accounting from /proc
// ---------------------------------------------------------------------------------------------------------
interface ProcessInfo {
  pid: number;
  parentPid: number;
  /** User plus system time in clock ticks. */
  ticks: number;
  commandLine: string;
}

function readProcess(pid: number): ProcessInfo | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) is in parentheses and may hold spaces, so fields are counted after the last ")".
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const commandLine = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ").trim();
    return { pid, parentPid: Number(fields[1]), ticks: Number(fields[11]) + Number(fields[12]), commandLine };
  } catch {
    // The process ended between listing and reading.
    return undefined;
  }
}

function allProcesses(): ProcessInfo[] {
  return fs
    .readdirSync("/proc")
    .filter((entry) => /^\d+$/.test(entry))
    .map((entry) => readProcess(Number(entry)))
    .filter((info): info is ProcessInfo => info !== undefined);
}

function machineTicks(): { busy: number; total: number } {
  const [cpuLine = ""] = fs.readFileSync("/proc/stat", "utf8").split("\n");
  const values = cpuLine.trim().split(/\s+/).slice(1, 9).map(Number);
  const total = values.reduce((sum, value) => sum + value, 0);
  const idle = (values[3] ?? 0) + (values[4] ?? 0);
  return { busy: total - idle, total };
}

/** The processes of each part of the topology, found afresh at each snapshot (backends come and go). */
function groupProcesses(instanceCount: number): Map<string, ProcessInfo[]> {
  const processes = allProcesses();
  const childrenOf = (pid: number) => processes.filter((info) => info.parentPid === pid);
  const byPid = (pid: number) => processes.filter((info) => info.pid === pid);
  // The first line: PostgreSQL's postmaster.pid holds more lines after the pid.
  const readPid = (name: string): number => Number(fs.readFileSync(path.join(stackDirectory, name), "utf8").split("\n", 1)[0]?.trim());
  const groups = new Map<string, ProcessInfo[]>();
  const nginxPid = readPid("nginx.pid");
  groups.set("nginx", [...byPid(nginxPid), ...childrenOf(nginxPid)]);
  for (let instance = 1; instance <= instanceCount; instance += 1) {
    const pid = readPid(`app-${instance}.pid`);
    groups.set(`app ${instance}`, [...byPid(pid), ...childrenOf(pid)]);
  }
  // The stack's own cluster and Redis, so nothing else on the machine is counted as theirs.
  const postmaster = readPid("postgres/data/postmaster.pid");
  const clusterProcesses = [...byPid(postmaster), ...childrenOf(postmaster)];
  // A backend's process title is "postgres: <role> <database> <client> <state>".
  const isBenchBackend = (info: ProcessInfo) => info.commandLine.startsWith("postgres: ") && info.commandLine.includes(` ${runName} `);
  groups.set("postgres backends", clusterProcesses.filter(isBenchBackend));
  groups.set("postgres other", clusterProcesses.filter((info) => !isBenchBackend(info)));
  groups.set("redis", byPid(readPid("redis.pid")));
  groups.set("load generator", byPid(process.pid));
  return groups;
}

interface CpuSnapshot {
  ticksByPid: Map<number, number>;
  machine: { busy: number; total: number };
  at: number;
}

function cpuSnapshot(instanceCount: number): CpuSnapshot {
  const ticksByPid = new Map<number, number>();
  for (const members of groupProcesses(instanceCount).values()) for (const info of members) ticksByPid.set(info.pid, info.ticks);
  return { ticksByPid, machine: machineTicks(), at: performance.now() };
}

/** Cores used by each group between two snapshots; a process that started in between counts from zero. */
function coresUsed(before: CpuSnapshot, instanceCount: number): { groups: Map<string, number>; machineBusy: number; machineCores: number } {
  const after = cpuSnapshot(instanceCount);
  const seconds = (after.at - before.at) / 1000;
  const groups = new Map<string, number>();
  for (const [label, members] of groupProcesses(instanceCount)) {
    const ticks = members.reduce((sum, info) => sum + info.ticks - (before.ticksByPid.get(info.pid) ?? 0), 0);
    groups.set(label, ticks / clockTicksPerSecond / seconds);
  }
  const machineSeconds = (after.machine.total - before.machine.total) / clockTicksPerSecond;
  const machineCores = machineSeconds / seconds;
  const machineBusy = (after.machine.busy - before.machine.busy) / clockTicksPerSecond / seconds;
  return { groups, machineBusy, machineCores };
}

// ---------------------------------------------------------------------------------------------------------
// The stack
// ---------------------------------------------------------------------------------------------------------
async function startStack(instanceCount: number): Promise<ChildProcess> {
  let output = "";
  const child = spawn("./run.sh", ["stack"], {
    cwd: repositoryRoot,
    // Its own process group, so that a failed stop can still end everything it started.
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
    env: {
      ...process.env,
      ...raisedLimits,
      DATA_DIR: dataDirectory,
      STACK_DIR: stackDirectory,
      STACK_DATABASE: runName,
      STACK_POSTGRES_PORT: String(nginxPort + 20),
      STACK_REDIS_PORT: String(nginxPort + 21),
      STACK_METRICS_PORTS: `${nginxPort + 22},${nginxPort + 23}`,
      STACK_APP_PORTS: instancePorts.slice(0, instanceCount).join(","),
      NGINX_HTTPS_PORT: String(nginxPort),
      NGINX_HTTP_PORT: String(nginxPort + 1),
      RATE_LIMIT_PREFIX: rateLimitPrefix,
      LOG_LEVEL: "warn",
    },
  });
  await new Promise<void>((resolve, reject) => {
    const timeout = setTimeout(() => reject(new Error(`./run.sh stack was not ready within 180 s:\n${output.slice(-3000)}`)), 180_000);
    const collect = (chunk: Buffer): void => {
      output += chunk.toString("utf8");
      if (output.includes("stack ready: ")) {
        clearTimeout(timeout);
        resolve();
      }
    };
    child.stdout?.on("data", collect);
    child.stderr?.on("data", collect);
    child.once("exit", (code) => {
      clearTimeout(timeout);
      reject(new Error(`./run.sh stack exited with ${String(code)} before it was ready:\n${output.slice(-3000)}`));
    });
  });
  return child;
}

async function stopStack(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const exited = new Promise<boolean>((resolve) => child.once("exit", () => resolve(true)));
  // run.sh's trap stops nginx and the instances on SIGTERM.
  child.kill("SIGTERM");
  const stopped = await Promise.race([exited, new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 20_000))]);
  if (!stopped) process.kill(-child.pid, "SIGKILL");
}

// ---------------------------------------------------------------------------------------------------------
// Measurements
// ---------------------------------------------------------------------------------------------------------
interface Measurement {
  workload: string;
  instances: number;
  round: number;
  perSecond: number;
  p50Milliseconds: number;
  p99Milliseconds: number;
  errors: number;
  cores: Map<string, number>;
  machineBusy: number;
  machineCores: number;
}

interface Workload {
  name: string;
  path: string;
  method: "GET" | "POST";
  expectedStatus: number;
  /** A body for each request (a fresh one each time), or none. */
  body?: () => string;
}

async function drive(workload: Workload, jar: CookieJar, seconds: number): Promise<{ result: autocannon.Result; unexpected: Map<number, number> }> {
  const unexpected = new Map<number, number>();
  const result = await autocannon({
    url: `https://127.0.0.1:${nginxPort}${workload.path}`,
    connections,
    duration: seconds,
    method: workload.method,
    headers: {
      host: publicHost,
      cookie: jar.header(),
      origin: publicOrigin,
      "sec-fetch-site": "same-origin",
      "user-agent": "bank-bench-deploy",
      accept: workload.method === "GET" ? "text/html" : "application/json",
      ...(workload.body ? { "content-type": "application/json" } : {}),
    },
    // nginx's certificate is for localhost; the connection goes to 127.0.0.1 with that name.
    servername: "localhost",
    requests: [
      {
        setupRequest: (outgoing) => {
          if (!workload.body) return outgoing;
          return { ...outgoing, body: workload.body(), headers: { ...outgoing.headers, "idempotency-key": crypto.randomUUID() } };
        },
        onResponse: (status) => {
          if (status !== workload.expectedStatus) unexpected.set(status, (unexpected.get(status) ?? 0) + 1);
        },
      },
    ],
  });
  return { result, unexpected };
}

async function measure(workload: Workload, jar: CookieJar, instances: number, round: number): Promise<Measurement> {
  process.stdout.write(`  ${workload.name}: warm-up ${warmUpSeconds} s, then ${measureSeconds} s with ${connections} connections ...\n`);
  await drive(workload, jar, warmUpSeconds);
  const before = cpuSnapshot(instances);
  const { result, unexpected } = await drive(workload, jar, measureSeconds);
  const { groups, machineBusy, machineCores } = coresUsed(before, instances);
  if (unexpected.size > 0) process.stderr.write(`  ${workload.name}: unexpected statuses ${JSON.stringify(Object.fromEntries(unexpected))}\n`);
  const unexpectedCount = [...unexpected.values()].reduce((sum, count) => sum + count, 0);
  return {
    workload: workload.name,
    instances,
    round,
    perSecond: (result.requests.total - unexpectedCount - result.errors) / result.duration,
    p50Milliseconds: result.latency.p50,
    p99Milliseconds: result.latency.p99,
    errors: unexpectedCount + result.errors + result.timeouts,
    cores: groups,
    machineBusy,
    machineCores,
  };
}

/**
 * An authenticator code is accepted once per 30-second step, so a second sign-in waits for a new step. Each
 * sign-in comes from a loopback address of its own (Linux lets a client bind any of 127.0.0.0/8), so that the
 * rounds do not add up against the per-client sign-in limit, which this run leaves at its real value.
 */
let lastSignInStep = 0;
let signIns = 0;
async function signInAlice(ca: Buffer): Promise<CookieJar> {
  while (Math.floor(Date.now() / 30_000) <= lastSignInStep) await new Promise((resolve) => setTimeout(resolve, 1_000));
  const credentials = JSON.parse(fs.readFileSync(path.join(stackDirectory, "demo-credentials.json"), "utf8")) as { signIns: (Person & { role: string })[] };
  const alice = credentials.signIns.find((person) => person.email.startsWith("alice"));
  if (!alice) throw new Error("the demo credentials name no alice");
  signIns += 1;
  const jar = await signIn({ person: alice, port: nginxPort, from: `127.0.20.${signIns}`, publicOrigin, ca });
  lastSignInStep = Math.floor(Date.now() / 30_000);
  return jar;
}

async function runWithInstances(instances: number, round: number): Promise<Measurement[]> {
  process.stdout.write(`Round ${round}: starting ./run.sh stack with ${instances} instance${instances === 1 ? "" : "s"} ...\n`);
  const stack = await startStack(instances);
  try {
    const ca = fs.readFileSync(path.join(dataDirectory, "tls", "cert.pem"));
    const jar = await signInAlice(ca);
    const accountsAnswer = await request({ port: nginxPort, host: publicHost, from: "127.0.0.1", ca, path: "/api/v1/accounts", headers: { cookie: jar.header() } });
    const accounts = (JSON.parse(accountsAnswer.body) as { accounts: { id: string }[] }).accounts;
    const [first, second] = accounts;
    if (!first || !second) throw new Error(`alice has fewer than two accounts (GET /api/v1/accounts answered ${accountsAnswer.status})`);
    const workloads: Workload[] = [
      { name: "GET / (accounts page)", path: "/", method: "GET", expectedStatus: 200 },
      {
        name: "POST /api/v1/transfers",
        path: "/api/v1/transfers",
        method: "POST",
        expectedStatus: 201,
        // Both directions at random, so that neither account runs dry however long the run.
        body: () => {
          const [from, to] = crypto.randomInt(2) === 0 ? [first, second] : [second, first];
          return JSON.stringify({ fromAccountId: from.id, to: { kind: "own_account", accountId: to.id }, amount: "0.01" });
        },
      },
    ];
    const measurements: Measurement[] = [];
    for (const workload of workloads) measurements.push(await measure(workload, jar, instances, round));
    return measurements;
  } finally {
    await stopStack(stack);
  }
}

function removeRunData(): void {
  // The stack's cluster, Redis folder, token and certificates all live in the temporary folder.
  fs.rmSync(temporaryRoot, { recursive: true, force: true });
}

// ---------------------------------------------------------------------------------------------------------
// Report
// ---------------------------------------------------------------------------------------------------------
function printReport(measurements: readonly Measurement[]): void {
  const format = (value: number, digits = 1) => (Number.isFinite(value) ? value.toFixed(digits) : "–");
  const cpus = os.cpus();
  console.log("");
  console.log(`Machine: ${cpus.length} × ${cpus[0]?.model ?? "unknown CPU"}, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB; everything (nginx, instances, PostgreSQL, Redis, load generator) on it.`);
  console.log(`Each figure: ${measureSeconds} s after a ${warmUpSeconds} s warm-up, ${connections} keep-alive connections, HTTPS through nginx with ModSecurity and the CRS.`);
  console.log(`Raised for this run through configuration: ${Object.entries(raisedLimits).map(([name, value]) => `${name}=${value}`).join(", ")}.`);
  console.log("");
  console.log("| Workload | Instances | Round | Requests/s | p50 ms | p99 ms | Errors |");
  console.log("|---|---:|---:|---:|---:|---:|---:|");
  for (const measurement of measurements) {
    console.log(
      `| ${measurement.workload} | ${measurement.instances} | ${measurement.round} | ${format(measurement.perSecond)} | ` +
        `${format(measurement.p50Milliseconds, 1)} | ${format(measurement.p99Milliseconds, 1)} | ${measurement.errors} |`,
    );
  }
  console.log("");
  const median = (values: number[]): number => {
    const sorted = [...values].sort((a, b) => a - b);
    const middle = Math.floor(sorted.length / 2);
    return sorted.length % 2 === 1 ? (sorted[middle] ?? Number.NaN) : ((sorted[middle - 1] ?? Number.NaN) + (sorted[middle] ?? Number.NaN)) / 2;
  };
  for (const workload of new Set(measurements.map((measurement) => measurement.workload))) {
    const medianFor = (instances: number) =>
      median(measurements.filter((measurement) => measurement.workload === workload && measurement.instances === instances).map((measurement) => measurement.perSecond));
    const one = medianFor(1);
    const two = medianFor(2);
    console.log(`${workload}: median ${format(one)}/s with one instance, ${format(two)}/s with two; two / one = ${format(two / one, 2)}`);
  }
  console.log("");
  console.log("CPU per process during each measurement, in cores (CPU seconds per second; the machine has " + `${cpus.length}):`);
  const labels = ["nginx", "app 1", "app 2", "postgres backends", "postgres other", "redis", "load generator"];
  console.log(`| Workload | Instances | Round | ${labels.join(" | ")} | other | machine busy | CPU ms per request (listed) |`);
  console.log(`|---|---:|---:|${labels.map(() => "---:").join("|")}|---:|---:|---:|`);
  for (const measurement of measurements) {
    const listed = labels.reduce((sum, label) => sum + (measurement.cores.get(label) ?? 0), 0);
    const cells = labels.map((label) => (measurement.cores.has(label) ? format(measurement.cores.get(label) ?? 0, 2) : "–"));
    const perRequest = measurement.perSecond > 0 ? (listed * 1000) / measurement.perSecond : Number.NaN;
    console.log(
      `| ${measurement.workload} | ${measurement.instances} | ${measurement.round} | ${cells.join(" | ")} | ${format(Math.max(0, measurement.machineBusy - listed), 2)} | ` +
        `${format(measurement.machineBusy, 2)} of ${format(measurement.machineCores, 1)} | ${format(perRequest, 2)} |`,
    );
  }
  console.log("");
  console.log("'other' is the machine's busy time not accounted to the processes listed (other programs running meanwhile).");
  // Where the ceiling is, from CPU per request, which other programs on the machine disturb far less than
  // throughput: one instance is one Node process, which uses about one core, so it tops out at 1000 ms over its
  // own CPU per request; the whole topology (nginx, the instances, PostgreSQL, Redis and the load generator)
  // shares the machine's cores, so it tops out at cores × 1000 ms over the CPU all of them spend per request.
  console.log("");
  for (const workload of new Set(measurements.map((measurement) => measurement.workload))) {
    const rows = measurements.filter((measurement) => measurement.workload === workload && measurement.perSecond > 0);
    const appMilliseconds = median(
      rows.filter((row) => row.instances === 1).map((row) => (((row.cores.get("app 1") ?? 0) + (row.cores.get("app 2") ?? 0)) * 1000) / row.perSecond),
    );
    const listedMilliseconds = median(
      rows.map((row) => ([...row.cores.values()].reduce((sum, value) => sum + value, 0) * 1000) / row.perSecond),
    );
    const oneInstanceCeiling = 1000 / appMilliseconds;
    const machineCeiling = (cpus.length * 1000) / listedMilliseconds;
    console.log(
      `${workload}: the app spends ${format(appMilliseconds, 1)} ms CPU per request, so one instance tops out near ${format(oneInstanceCeiling, 0)}/s; ` +
        `everything together spends ${format(listedMilliseconds, 1)} ms, so ${cpus.length} cores top out near ${format(machineCeiling, 0)}/s ` +
        `whatever the number of instances: at most ${format(Math.max(1, machineCeiling / oneInstanceCeiling), 2)}× from a second instance on this machine.`,
    );
  }
  const disturbed = measurements.filter((measurement) => {
    const listed = [...measurement.cores.values()].reduce((sum, value) => sum + value, 0);
    return measurement.machineBusy - listed > 0.25;
  });
  if (disturbed.length > 0) {
    console.log(
      `Warning: in ${disturbed.length} of ${measurements.length} measurements other programs used more than a quarter of a core ` +
        "(column 'other'); those rows understate what the topology can do, and ratios that mix them are not a scaling figure.",
    );
  }
}

async function main(): Promise<void> {
  const measurements: Measurement[] = [];
  try {
    for (let round = 1; round <= rounds; round += 1) {
      for (const instances of [1, 2]) measurements.push(...(await runWithInstances(instances, round)));
    }
  } finally {
    removeRunData();
    // What was measured before a failure is still worth seeing; the failure itself is reported after it.
    if (measurements.length > 0) printReport(measurements);
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
