import "server-only";
import type { SessionActor } from "@/lib/auth/actor";
import { stepUpPayloadHash } from "@/lib/auth/step-up";
import { BankError } from "@/lib/errors";
import { payeeDetailsSchema } from "@/lib/validation/payee";

/**
 * The operations that ask for a payload-bound step-up (lib/auth/step-up.ts `requireStepUpForPayload`), each
 * with the payload its confirmation is bound to. The payload is always computed here on the server, from the
 * actor (and, for later operations, from the operation's own parsed input), never taken from the browser: the
 * browser names the operation, types the code, and the server decides what exactly that code authorises.
 *
 * To protect a new operation (a payee, a transfer, a staff action):
 * 1. add its name and payload builder here (put every field that must not change between confirmation and
 *    execution into the payload, for example the accounts and the amount of a transfer);
 * 2. in its data-layer function, call `requireStepUpForPayload(actor, stepUpOperationHash(name, actor, input))`
 *    before doing anything; without a confirmation it throws BankError("step_up_required"), which the action
 *    wrapper turns into `{ ok: false, code: "step_up_required" }`;
 * 3. in its client form, render `<StepUpPrompt>` (app/components/step-up-prompt.tsx) with the action's result,
 *    which asks for a code, confirms it through the `confirmStepUp` server action and retries the action.
 */
export const stepUpOperationNames = ["regenerate_recovery_codes", "save_payee"] as const;
export type StepUpOperationName = (typeof stepUpOperationNames)[number];

/**
 * Builds an operation's payload from the actor and the operation's input. The input is whatever the browser
 * sent (to the confirmation and to the operation alike), so each builder parses it with the operation's own
 * schema: the same parse on both sides gives the same payload, and anything else gives another hash.
 */
type PayloadBuilder = (actor: SessionActor, input: unknown) => Record<string, string>;

function parseOperationInput<Output>(schema: { safeParse: (input: unknown) => { success: true; data: Output } | { success: false } }, input: unknown): Output {
  const parsed = schema.safeParse(input);
  if (!parsed.success) throw new BankError("invalid_input", { internalMessage: "step-up operation input does not parse" });
  return parsed.data;
}

const payloadBuilders: Record<StepUpOperationName, PayloadBuilder> = {
  // Bound to the user as well as the session (confirmations are per session already): the code typed on this
  // screen authorises one new set of recovery codes for this user and nothing else.
  regenerate_recovery_codes: (actor) => ({ action: "regenerate_recovery_codes", userId: actor.userId }),
  // Bound to the exact account number and name being saved: a code typed for one payee never saves another.
  save_payee: (actor, input) => {
    const details = parseOperationInput(payeeDetailsSchema, input);
    return { action: "save_payee", userId: actor.userId, accountNumber: details.accountNumber, name: details.name };
  },
};

/**
 * The payload hash that a confirmation for `operation` by `actor` is bound to. `input` is the operation's
 * input as received (unparsed); operations bound to the user alone ignore it.
 */
export function stepUpOperationHash(operation: StepUpOperationName, actor: SessionActor, input?: unknown): string {
  return stepUpPayloadHash(payloadBuilders[operation](actor, input));
}
