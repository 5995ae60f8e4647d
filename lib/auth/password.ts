import "server-only";
import crypto from "node:crypto";
import { hash, verify } from "@node-rs/argon2";
import { Semaphore, type SemaphoreLoad } from "@/lib/concurrency/semaphore";
import { env } from "@/lib/env";

/**
 * argon2id at m=65536 KiB (64 MiB), t=2, p=1.
 *
 * Chosen by measurement (bench/argon2-parameters.ts, 2-core machine, Node 20, median of 21 hashes one at a
 * time): OWASP's minimum m=19456,t=2,p=1 took 8.5 ms; m=47104,t=1 14.7 ms; m=65536,t=2,p=1 38.3 ms (4.5× the
 * minimum); m=65536,t=3,p=1 54.3 ms; m=65536,t=3,p=4 35.7 ms of wall time but 65.0 ms of CPU spread over the
 * cores; m=131072,t=2 83.5 ms. 64 MiB and two passes sit in the 30–60 ms a sign-in can afford on one core
 * with room left for a loaded machine, and cost an attacker with a GPU far more memory per guess than the
 * minimum. p=1 keeps one hash on one core: with p=4 a hash finishes sooner but burns ~1.8 cores, so a burst
 * of sign-ins would take the whole machine (STACK-NOTES trap 20).
 *
 * The parameters are stored in each hash, so raising them affects new hashes only; `passwordHashNeedsRehash`
 * tells a caller that has just verified a password whether to store a fresh hash of it.
 */
// `Algorithm` is a const enum, which isolated modules cannot read: 2 is its Argon2id member.
const argon2idAlgorithm = 2;
export const currentArgon2Parameters = {
  memoryCost: 65_536,
  timeCost: 2,
  parallelism: 1,
} as const;
const argon2Options = { algorithm: argon2idAlgorithm, ...currentArgon2Parameters } as const;
// The version of Argon2 that @node-rs/argon2 writes (0x13), the only one in current use.
const argon2Version = 19;

/**
 * At most `PASSWORD_HASH_CONCURRENCY` hashes and verifications run at once in this process (by default one
 * fewer than the cores). Each holds 64 MiB and a core for ~40 ms; without a cap a burst of sign-ins, honest or
 * not, would take every core and stall every other request. Beyond the cap requests wait their turn, which
 * costs the waiting sign-in time but keeps the rest of the bank answering. Created on first use so that the
 * configuration is read after the process has set it.
 */
let hashingSlots: Semaphore | undefined;
function slots(): Semaphore {
  hashingSlots ??= new Semaphore(env().passwordHashConcurrency);
  return hashingSlots;
}

/** How busy password hashing is in this process, for health figures and tests. */
export function passwordHashingLoad(): SemaphoreLoad {
  return slots().load;
}

export async function hashPassword(password: string): Promise<string> {
  return slots().run(() => hash(password, argon2Options));
}

/**
 * A well-formed argon2id hash with the current parameters and random salt and digest: no password produces it,
 * but verifying against it costs exactly what verifying against a real hash of the current parameters costs.
 * It is used when the account does not exist, so that an unknown email takes the same time as a wrong
 * password and response timing does not reveal who has an account. Built from the current parameters rather
 * than computed once by hashing, so there is no slower first call, and a change of parameters cannot leave a
 * decoy cheaper than real hashes.
 */
const decoyHash =
  `$argon2id$v=${argon2Version}$m=${currentArgon2Parameters.memoryCost},t=${currentArgon2Parameters.timeCost},` +
  `p=${currentArgon2Parameters.parallelism}$${crypto.randomBytes(16).toString("base64").replace(/=+$/, "")}` +
  `$${crypto.randomBytes(32).toString("base64").replace(/=+$/, "")}`;

export async function verifyPassword(passwordHash: string | null, password: string): Promise<boolean> {
  return slots().run(async () => {
    if (passwordHash === null) {
      await verify(decoyHash, password);
      return false;
    }
    try {
      return await verify(passwordHash, password);
    } catch {
      // A malformed stored hash must never sign anyone in; treat it exactly like a wrong password.
      return false;
    }
  });
}

const phcPattern = /^\$(?<algorithm>[a-z0-9-]+)\$v=(?<version>\d+)\$m=(?<memory>\d+),t=(?<time>\d+),p=(?<parallelism>\d+)\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$/;

/**
 * Whether a stored hash was made with weaker settings than today's: another algorithm than argon2id, another
 * Argon2 version, or any of memory, passes or lanes below the current values. A hash that cannot be parsed
 * counts as needing a rehash. Call it only after the password verified, with the password in hand, to store
 * `hashPassword(password)` in its place; a stronger stored hash (a parameter above today's) is left alone.
 */
export function passwordHashNeedsRehash(passwordHash: string): boolean {
  const parts = phcPattern.exec(passwordHash)?.groups;
  if (!parts) return true;
  if (parts.algorithm !== "argon2id" || Number(parts.version) !== argon2Version) return true;
  return (
    Number(parts.memory) < currentArgon2Parameters.memoryCost ||
    Number(parts.time) < currentArgon2Parameters.timeCost ||
    Number(parts.parallelism) < currentArgon2Parameters.parallelism
  );
}
