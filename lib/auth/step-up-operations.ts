import "server-only";
import type { SessionActor } from "@/lib/auth/actor";
import { stepUpPayloadHash } from "@/lib/auth/step-up";
import { transferConfirmationPayloadHash } from "@/lib/ledger/post-transfer";
import { BankError } from "@/lib/errors";
import { mfaResetDecisionSchema, requestMfaResetSchema } from "@/lib/validation/mfa-reset";
import { payeeDetailsSchema } from "@/lib/validation/payee";
import { parseTransferRequest } from "@/lib/validation/transfer";

/**
 * The operations that ask for a payload-bound step-up (lib/auth/step-up.ts `requireStepUpForPayload`), each
 * with the payload its confirmation is bound to. The payload is always computed here on the server, from the
 * actor (and, for later operations, from the operation's own parsed input), never taken from the browser: the
 * browser names the operation, types the code, and the server decides what exactly that code authorises.
 *
 * To protect a new operation (a payee, a transfer, a staff action):
 * 1. add its name and payload hash builder here (put every field that must not change between confirmation and
 *    execution into the payload, for example the accounts and the amount of a transfer); a builder receives the
 *    operation's input as the browser sent it (`unknown`) and must parse it with the operation's own schema, the
 *    same parse the operation itself applies, so that what is confirmed is exactly what will be executed;
 * 2. in its data-layer function, call `requireStepUpForPayload(actor, stepUpOperationHash(name, actor, input))`
 *    before doing anything (or, like transfers, check the same hash inside the operation's own transaction);
 *    without a confirmation it throws BankError("step_up_required"), which the action wrapper turns into
 *    `{ ok: false, code: "step_up_required" }`;
 * 3. in its client form, render `<StepUpPrompt>` (app/components/step-up-prompt.tsx) with the action's result
 *    (and `operationInput`, the very input the action was sent, when the operation has one), which asks for a
 *    code, confirms it through the `confirmStepUp` server action and retries the action.
 */
export const stepUpOperationNames = [
  "regenerate_recovery_codes",
  "save_payee",
  "transfer",
  "staff_request_mfa_reset",
  "staff_approve_mfa_reset",
] as const;
export type StepUpOperationName = (typeof stepUpOperationNames)[number];

const payloadHashBuilders: Record<StepUpOperationName, (actor: SessionActor, input: unknown) => string> = {
  // Bound to the user as well as the session (confirmations are per session already): the code typed on this
  // screen authorises one new set of recovery codes for this user and nothing else. It has no input.
  regenerate_recovery_codes: (actor) => stepUpPayloadHash({ action: "regenerate_recovery_codes", userId: actor.userId }),
  // Bound to the exact account number and name being saved: a code typed for one payee never saves another.
  save_payee: (actor, input) => {
    const parsed = payeeDetailsSchema.safeParse(input);
    if (!parsed.success) throw new BankError("invalid_input", { internalMessage: "step-up operation input does not parse" });
    return stepUpPayloadHash({
      action: "save_payee",
      userId: actor.userId,
      accountNumber: parsed.data.accountNumber,
      name: parsed.data.name,
    });
  },
  // PSD2 dynamic linking: amount, source, destination and idempotency key, parsed by the transfer's own schema
  // and hashed by the ledger's own function, the one ledger_post_transfer compares against. A bad input throws
  // BankError("invalid_input") with the same field messages the transfer itself would give.
  transfer: (_actor, input) => transferConfirmationPayloadHash(parseTransferRequest(input)),
  // Back office, lost authenticator (lib/admin/mfa-reset): a code typed to request the reset of one customer's
  // second factor never requests it for another customer. The reason is free text and not part of what is
  // confirmed; it is recorded with the request.
  staff_request_mfa_reset: (actor, input) => {
    const parsed = requestMfaResetSchema.shape.customerId.safeParse(
      typeof input === "object" && input !== null && "customerId" in input ? input.customerId : undefined,
    );
    if (!parsed.success) throw new BankError("invalid_input", { internalMessage: "step-up operation input does not parse" });
    return stepUpPayloadHash({ action: "staff_request_mfa_reset", staffId: actor.userId, customerId: parsed.data });
  },
  // A code typed to approve one request approves exactly that request.
  staff_approve_mfa_reset: (actor, input) => {
    const parsed = mfaResetDecisionSchema.safeParse(input);
    if (!parsed.success) throw new BankError("invalid_input", { internalMessage: "step-up operation input does not parse" });
    return stepUpPayloadHash({ action: "staff_approve_mfa_reset", staffId: actor.userId, requestId: parsed.data.requestId });
  },
};

/** The payload hash that a confirmation for `operation` by `actor`, with the operation's `input`, is bound to. */
export function stepUpOperationHash(operation: StepUpOperationName, actor: SessionActor, input?: unknown): string {
  return payloadHashBuilders[operation](actor, input);
}
