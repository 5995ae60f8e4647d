import "server-only";
import crypto from "node:crypto";
import { hash, verify } from "@node-rs/argon2";
import { Semaphore, type SemaphoreLoad } from "@/lib/concurrency/semaphore";
import { pepperPassword } from "@/lib/crypto";
import { env } from "@/lib/env";
import { BankError } from "@/lib/errors";

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
 *
 * The pepper (NIST SP 800-63B §3.1.1.2). argon2id never sees the password itself: it hashes the 32-byte
 * HMAC-SHA256 of the password (as base64 text, see `withPepperedPassword`) under a secret key, the pepper,
 * which the key provider holds: the local keyring file, or the HSM, where the HMAC is computed inside the
 * token and the pepper never enters this process. Someone who steals the database but not the pepper then
 * cannot test a single guess offline, however weak the password. Stored hashes look like
 *
 *   $hmac-sha256-pepper$v=1$argon2id$v=19$m=65536,t=2,p=1$<salt>$<digest>
 *
 * where the prefix names the pepper scheme and the version of the pepper, followed by argon2's own PHC string.
 * Hashes stored before the pepper are plain PHC strings (`$argon2id$...`); they still verify, over the raw
 * password as before, and `passwordHashNeedsRehash` says yes for them, so the sign-in that verifies one stores
 * a peppered hash in its place (lib/auth/authenticate-with-password.ts). The version leaves room to rotate the
 * pepper the same way later: a provider that knows pepper versions 1 and 2 verifies either and rehashes the
 * old one at sign-in.
 *
 * There is no fallback to hashing without the pepper. If the provider cannot compute the HMAC, hashing and
 * verifying throw `BankError("unavailable")` (503): that is an outage, not a wrong password, so it must never
 * count towards a lockout, and a hash made without the pepper would be exactly the kind a stolen database can
 * attack.
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

/** The pepper scheme of new hashes, and the version of the pepper they are made with. */
export const pepperScheme = "hmac-sha256-pepper";
export const currentPepperVersion = 1;
const currentPepperPrefix = `$${pepperScheme}$v=${currentPepperVersion}`;
// The prefix and the argon2 PHC string that follows it (which starts with its own "$").
const pepperedHashPattern = /^\$hmac-sha256-pepper\$v=(?<version>[1-9][0-9]{0,8})(?<argon2Hash>\$.*)$/s;

interface ParsedPasswordHash {
  /** The pepper version the hash was made with, or null for a hash stored before passwords were peppered. */
  readonly pepperVersion: number | null;
  readonly argon2Hash: string;
}

function parsePasswordHash(passwordHash: string): ParsedPasswordHash {
  const groups = pepperedHashPattern.exec(passwordHash)?.groups;
  if (groups?.version === undefined || groups.argon2Hash === undefined) {
    return { pepperVersion: null, argon2Hash: passwordHash };
  }
  return { pepperVersion: Number(groups.version), argon2Hash: groups.argon2Hash };
}

/**
 * The pepper HMAC of the password, with every failure reported as the outage it is. A provider that already
 * says "unavailable" is passed through unchanged; anything else (a keyring that cannot be read, a token that
 * answers with an error) is wrapped, with the original as the logged cause, so that the caller answers 503
 * rather than treating the failure as a wrong password or a bug in the request.
 */
async function pepperedPassword(password: string): Promise<Buffer> {
  try {
    return await pepperPassword(password);
  } catch (cause) {
    if (cause instanceof BankError && cause.code === "unavailable") throw cause;
    throw new BankError("unavailable", {
      internalMessage: "the password pepper could not be computed, so no password can be hashed or checked",
      cause,
    });
  }
}

/**
 * Runs `work` with the peppered password: the 32-byte HMAC as standard base64 (44 characters).
 *
 * argon2 gets the digest as base64 text rather than as bytes because @node-rs/argon2 2.2.1 hashes a binary
 * password as given but its `verify` decodes one as UTF-8 and throws "invalid utf-8 sequence" for most
 * digests (measured here), so bytes could be hashed but never checked. The encoding adds and removes nothing:
 * the 44 characters stand for exactly the 256 bits of the HMAC, and argon2 accepts them like any password.
 *
 * The digest's buffer is wiped once the text exists: with the stored hash it would allow the same offline
 * guessing the pepper prevents. The base64 string cannot be wiped (JS strings are immutable) and is left to
 * the garbage collector, like the password itself.
 */
async function withPepperedPassword<Result>(
  password: string,
  work: (peppered: string) => Promise<Result>,
): Promise<Result> {
  const digest = await pepperedPassword(password);
  let peppered: string;
  try {
    peppered = digest.toString("base64");
  } finally {
    digest.fill(0);
  }
  return work(peppered);
}

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
  // The pepper is computed before a hashing slot is taken, so a slow or hanging HSM holds no slot that a
  // sign-in elsewhere could use; it is cheap next to argon2 (microseconds locally, one token call in an HSM).
  return withPepperedPassword(password, async (peppered) => {
    const argon2Hash = await slots().run(() => hash(peppered, argon2Options));
    return `${currentPepperPrefix}${argon2Hash}`;
  });
}

/**
 * A well-formed argon2id hash with the current parameters and random salt and digest: no password produces it,
 * but verifying against it costs exactly what verifying against a real hash of the current parameters costs.
 * It is used when the account does not exist, so that an unknown email takes the same time as a wrong
 * password and response timing does not reveal who has an account. Built from the current parameters rather
 * than computed once by hashing, so there is no slower first call, and a change of parameters cannot leave a
 * decoy cheaper than real hashes. The decoy is verified against the peppered password, so the decoy path also
 * makes the pepper call a real verification makes, and fails in the same way when the pepper is unavailable
 * (otherwise an outage would answer differently for unknown accounts and reveal which ones exist).
 */
const decoyHash =
  `$argon2id$v=${argon2Version}$m=${currentArgon2Parameters.memoryCost},t=${currentArgon2Parameters.timeCost},` +
  `p=${currentArgon2Parameters.parallelism}$${crypto.randomBytes(16).toString("base64").replace(/=+$/, "")}` +
  `$${crypto.randomBytes(32).toString("base64").replace(/=+$/, "")}`;

/**
 * Whether `password` matches `passwordHash` (a peppered hash, or one stored before the pepper); `null` verifies
 * against the decoy and answers false. Throws `BankError("unavailable")` when the pepper cannot be computed,
 * for every kind of hash alike: callers must let that through, never count it as a wrong password.
 */
export async function verifyPassword(passwordHash: string | null, password: string): Promise<boolean> {
  // The pepper is computed for hashes stored before the pepper too, although they do not use it: every
  // verification then costs the same pepper call, and the sign-in that follows needs the pepper anyway to store
  // the peppered replacement, so a missing pepper is found before any outcome is recorded.
  return withPepperedPassword(password, (peppered) =>
    slots().run(async () => {
      if (passwordHash === null) {
        await verify(decoyHash, peppered);
        return false;
      }
      const parsed = parsePasswordHash(passwordHash);
      if (parsed.pepperVersion !== null && parsed.pepperVersion !== currentPepperVersion) {
        // Only possible if hashes were written by a build that knows a newer pepper (after a rotation this
        // build does not know about); answering "wrong password" would lock the owner out for our mistake.
        throw new BankError("internal", {
          internalMessage: `stored password hash names pepper version ${parsed.pepperVersion}, which this build does not know`,
        });
      }
      try {
        // A hash from before the pepper is checked over the password itself, exactly as it was made.
        return await verify(parsed.argon2Hash, parsed.pepperVersion === null ? password : peppered);
      } catch {
        // A malformed stored hash must never sign anyone in; treat it exactly like a wrong password.
        return false;
      }
    }),
  );
}

const phcPattern = /^\$(?<algorithm>[a-z0-9-]+)\$v=(?<version>\d+)\$m=(?<memory>\d+),t=(?<time>\d+),p=(?<parallelism>\d+)\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$/;

/**
 * Whether a stored hash was made with weaker settings than today's: no pepper (a hash stored before passwords
 * were peppered) or an older pepper version, another algorithm than argon2id, another Argon2 version, or any
 * of memory, passes or lanes below the current values. A hash that cannot be parsed counts as needing a
 * rehash. Call it only after the password verified, with the password in hand, to store
 * `hashPassword(password)` in its place; a stronger stored hash (a parameter above today's) is left alone.
 */
export function passwordHashNeedsRehash(passwordHash: string): boolean {
  const { pepperVersion, argon2Hash } = parsePasswordHash(passwordHash);
  if (pepperVersion !== currentPepperVersion) return true;
  const parts = phcPattern.exec(argon2Hash)?.groups;
  if (!parts) return true;
  if (parts.algorithm !== "argon2id" || Number(parts.version) !== argon2Version) return true;
  return (
    Number(parts.memory) < currentArgon2Parameters.memoryCost ||
    Number(parts.time) < currentArgon2Parameters.timeCost ||
    Number(parts.parallelism) < currentArgon2Parameters.parallelism
  );
}
