import "server-only";
/**
 * The entry point the rest of the application uses for field encryption. It picks the key provider from the
 * validated configuration and exposes the cipher's operations as plain functions.
 *
 * The provider is built lazily, on the first call, rather than at import time: importing this module must
 * not read the keyring or contact an HSM (that would happen during `next build` and in every test that merely
 * imports a module depending on this one), and a configuration problem then surfaces as a failed operation
 * with a clear error. Once built, the provider and its cached keys live for the life of the process.
 */
import { env } from "@/lib/env";
import { BankError } from "@/lib/errors";
import { createFieldCipher, type FieldCipher, type FieldContext } from "@/lib/crypto/field-cipher";
import type { BlindIndexPurpose, DataKeyPurpose, KeyProvider } from "@/lib/crypto/key-provider";
import { createLocalKeyring } from "@/lib/crypto/local-keyring";
import { sharedPkcs11Provider } from "@/lib/crypto/pkcs11-provider";

export { normaliseEmail } from "@/lib/crypto/normalise";
export type { FieldContext } from "@/lib/crypto/field-cipher";
export type { BlindIndexPurpose, DataKeyPurpose } from "@/lib/crypto/key-provider";

let sharedCipher: FieldCipher | undefined;

function configuredProvider(): KeyProvider {
  const configuration = env();
  switch (configuration.keyProvider) {
    case "local":
      return createLocalKeyring(configuration.keyringPath);
    case "pkcs11":
      // One provider per process (its session and unwrapped keys are shared); it connects to the token on
      // first use, or at start-up through instrumentation.ts. Never a fallback to the local keyring: that would
      // put production data under keys sitting in a plain file.
      return sharedPkcs11Provider();
    default:
      // Unreachable while the configuration schema allows only the values above; a new value added there
      // without a provider here must fail loudly instead of leaving the application without keys.
      throw new BankError("unavailable", {
        internalMessage: `no key provider is built for ${String(configuration.keyProvider)}`,
      });
  }
}

function fieldCipher(): FieldCipher {
  // Only a successfully built cipher is remembered, so a failure is reported again on every call.
  sharedCipher ??= createFieldCipher(configuredProvider());
  return sharedCipher;
}

// These wrappers are `async` so that a failure to build the provider arrives as a rejected promise, exactly
// like every other failure of these operations, instead of as a synchronous throw that callers might not
// expect from a function returning a promise.

/** Encrypts `plaintext` for the given table, column and row. Throws on any failure; never returns the input. */
export async function encryptField(
  plaintext: string,
  context: FieldContext,
  purpose: DataKeyPurpose = "pii",
): Promise<string> {
  return fieldCipher().encryptField(plaintext, context, purpose);
}

/** Decrypts a value written by `encryptField` for the same table, column, row and purpose, or throws. */
export async function decryptField(
  ciphertext: string,
  context: FieldContext,
  purpose: DataKeyPurpose = "pii",
): Promise<string> {
  return fieldCipher().decryptField(ciphertext, context, purpose);
}

/** The keyed, deterministic index of `value` (normalised for its purpose first), as lower-case hex. */
export async function blindIndex(purpose: BlindIndexPurpose, value: string): Promise<string> {
  return fieldCipher().blindIndex(purpose, value);
}
