import "server-only";
import { hash, verify } from "@node-rs/argon2";

/**
 * argon2id at OWASP's recommended minimum (m=19456 KiB, t=2, p=1): about 10 ms a hash on this project's
 * 2-core machines (STACK-NOTES trap 9). p=1 keeps one hash on one core, so a burst of sign-ins cannot take
 * the whole machine (trap 20). The parameters are stored in each hash, so raising them later only affects
 * new hashes; the keys issue adds an HSM-held pepper in front of this.
 */
// `Algorithm` is a const enum, which isolated modules cannot read: 2 is its Argon2id member.
const argon2idAlgorithm = 2;
const argon2Options = {
  algorithm: argon2idAlgorithm,
  memoryCost: 19_456,
  timeCost: 2,
  parallelism: 1,
} as const;

export async function hashPassword(password: string): Promise<string> {
  return hash(password, argon2Options);
}

// A real hash of a random throwaway password, verified against when the account does not exist, so that an
// unknown email costs the same time as a wrong password and response timing does not reveal who has an account.
let decoyHash: Promise<string> | undefined;

export async function verifyPassword(passwordHash: string | null, password: string): Promise<boolean> {
  if (passwordHash === null) {
    decoyHash ??= hashPassword(crypto.randomUUID());
    await verify(await decoyHash, password);
    return false;
  }
  try {
    return await verify(passwordHash, password);
  } catch {
    // A malformed stored hash must never sign anyone in; treat it exactly like a wrong password.
    return false;
  }
}
