import "server-only";
import type { RequestContext } from "@/lib/auth/actor";
import { BankError } from "@/lib/errors";
import type { RegistrationInput } from "@/lib/validation/registration";

/**
 * PLACEHOLDER on the `password` branch, replaced at merge by the real use case (written on the identity
 * branch): it will create the unverified customer and queue the verification email. Until then registration
 * answers "temporarily unavailable", so that no code path pretends an account was opened.
 */
// eslint-disable-next-line @typescript-eslint/no-unused-vars -- the placeholder keeps the real signature so the action compiles against it.
export async function registerCustomerAccount(input: RegistrationInput, context: RequestContext): Promise<void> {
  throw new BankError("unavailable", { internalMessage: "registration is not implemented on this branch" });
}
