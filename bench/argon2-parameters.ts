/**
 * Measures argon2id hashing time on this machine for a few parameter sets, so that the choice in
 * lib/auth/password.ts rests on a measurement rather than a guess:
 *
 *   npx tsx --conditions=react-server bench/argon2-parameters.ts [iterations]
 *
 * For each candidate it prints the median wall-clock time of one hash, the median CPU time of one hash (which
 * is what a parallelism above 1 spreads over several cores: wall time falls, the machine's total work does
 * not), and both as a ratio to OWASP's minimum (m=19456 KiB, t=2, p=1). Hashes run one at a time, on an
 * otherwise idle event loop, after two warm-up hashes per candidate.
 */
import crypto from "node:crypto";
import { hash } from "@node-rs/argon2";

interface Candidate {
  label: string;
  memoryCost: number;
  timeCost: number;
  parallelism: number;
}

const candidates: Candidate[] = [
  { label: "OWASP minimum", memoryCost: 19_456, timeCost: 2, parallelism: 1 },
  { label: "OWASP 46 MiB", memoryCost: 47_104, timeCost: 1, parallelism: 1 },
  { label: "64 MiB, t=2", memoryCost: 65_536, timeCost: 2, parallelism: 1 },
  { label: "64 MiB, t=3", memoryCost: 65_536, timeCost: 3, parallelism: 1 },
  { label: "64 MiB, t=3, p=4", memoryCost: 65_536, timeCost: 3, parallelism: 4 },
  { label: "128 MiB, t=2", memoryCost: 131_072, timeCost: 2, parallelism: 1 },
];

// `Algorithm` is a const enum, which isolated modules cannot read: 2 is its Argon2id member.
const argon2idAlgorithm = 2;

function median(values: readonly number[]): number {
  const sorted = [...values].sort((left, right) => left - right);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[middle] ?? Number.NaN) : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
}

/** Wall-clock and CPU milliseconds of one hash. CPU time counts every thread of the process, libuv's included. */
async function timeOneHash(candidate: Candidate): Promise<{ wallMilliseconds: number; cpuMilliseconds: number }> {
  const options = {
    algorithm: argon2idAlgorithm,
    memoryCost: candidate.memoryCost,
    timeCost: candidate.timeCost,
    parallelism: candidate.parallelism,
  };
  const cpuBefore = process.cpuUsage();
  const started = process.hrtime.bigint();
  await hash(`benchmark password ${crypto.randomUUID()}`, options);
  const wallMilliseconds = Number(process.hrtime.bigint() - started) / 1e6;
  const cpu = process.cpuUsage(cpuBefore);
  return { wallMilliseconds, cpuMilliseconds: (cpu.user + cpu.system) / 1000 };
}

async function measure(candidate: Candidate, iterations: number): Promise<{ wall: number; cpu: number }> {
  for (let warmUp = 0; warmUp < 2; warmUp += 1) await timeOneHash(candidate);
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let iteration = 0; iteration < iterations; iteration += 1) {
    const sample = await timeOneHash(candidate);
    wall.push(sample.wallMilliseconds);
    cpu.push(sample.cpuMilliseconds);
  }
  return { wall: median(wall), cpu: median(cpu) };
}

function describe(candidate: Candidate): string {
  return `m=${candidate.memoryCost},t=${candidate.timeCost},p=${candidate.parallelism}`;
}

async function main(): Promise<void> {
  const requested = Number.parseInt(process.argv[2] ?? "", 10);
  const iterations = Number.isInteger(requested) && requested > 0 ? requested : 21;
  process.stdout.write(`argon2id, median of ${iterations} hashes each (after 2 warm-ups), one hash at a time\n`);
  process.stdout.write(
    `${"candidate".padEnd(20)} ${"parameters".padEnd(24)} ${"wall ms".padStart(8)} ${"cpu ms".padStart(8)} ` +
      `${"wall ×".padStart(7)} ${"cpu ×".padStart(7)}\n`,
  );
  let baseline: { wall: number; cpu: number } | undefined;
  for (const candidate of candidates) {
    const result = await measure(candidate, iterations);
    baseline ??= result;
    process.stdout.write(
      `${candidate.label.padEnd(20)} ${describe(candidate).padEnd(24)} ${result.wall.toFixed(1).padStart(8)} ` +
        `${result.cpu.toFixed(1).padStart(8)} ${(result.wall / baseline.wall).toFixed(2).padStart(7)} ` +
        `${(result.cpu / baseline.cpu).toFixed(2).padStart(7)}\n`,
    );
  }
}

await main();
