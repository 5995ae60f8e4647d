import "server-only";
import type { SessionActor } from "@/lib/auth/actor";
import { stepUpPayloadHash } from "@/lib/auth/step-up";
import { transferConfirmationPayloadHash } from "@/lib/ledger/post-transfer";
import { heldTransferReferenceSchema } from "@/lib/admin/held-transfers/schemas";
import { BankError } from "@/lib/errors";
import { revealCustomerFieldSchema, setAccountFrozenSchema } from "@/lib/validation/admin-customers";
import { mfaResetDecisionSchema, requestMfaResetSchema } from "@/lib/validation/mfa-reset";
import { payeeDetailsSchema } from "@/lib/validation/payee";
import { approveAdminGrantSchema, changeStaffRoleSchema, removeStaffAccessSchema } from "@/lib/validation/staff";
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
  "staff_reveal_pii",
  "staff_freeze_account",
  "staff_approve_transfer",
  "staff_change_role",
  "staff_remove_access",
  "staff_approve_admin_grant",
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
  // Back office (issue 9): a staff member's code reveals one field of one customer, once. The reason is checked by
  // the same schema but not bound: it is the staff member's own words, recorded with the reveal.
  staff_reveal_pii: (actor, input) => {
    if (actor.kind !== "staff") throw new BankError("not_found");
    const parsed = revealCustomerFieldSchema.safeParse(input);
    if (!parsed.success) throw new BankError("invalid_input", { internalMessage: "step-up operation input does not parse" });
    return stepUpPayloadHash({
      action: "staff_reveal_pii",
      userId: actor.userId,
      customerId: parsed.data.customerId,
      field: parsed.data.field,
    });
  },
  // A code freezes (or unfreezes) exactly one account: it cannot be spent on another account or the opposite change.
  staff_freeze_account: (actor, input) => {
    if (actor.kind !== "staff") throw new BankError("not_found");
    const parsed = setAccountFrozenSchema.safeParse(input);
    if (!parsed.success) throw new BankError("invalid_input", { internalMessage: "step-up operation input does not parse" });
    return stepUpPayloadHash({
      action: "staff_freeze_account",
      userId: actor.userId,
      accountId: parsed.data.accountId,
      frozen: parsed.data.frozen,
    });
  },
  // A staff member's approval of one held transfer (four eyes): bound to the staff member and the transfer's id,
  // so a code typed on one transfer's page approves that transfer and no other. The transfer's amount and
  // accounts cannot change while it is held, so its id names exactly what is approved.
  staff_approve_transfer: (actor, input) => {
    if (actor.kind !== "staff") throw new BankError("not_found");
    const parsed = heldTransferReferenceSchema.safeParse(input);
    if (!parsed.success) throw new BankError("invalid_input", { internalMessage: "step-up operation input does not parse" });
    return stepUpPayloadHash({ action: "staff_approve_transfer", userId: actor.userId, transferId: parsed.data.transferId });
  },
  // Staff and roles (the back office): each bound to the acting admin, the staff member and the exact change,
  // so a code typed to make Sam an auditor never makes anyone an admin.
  staff_change_role: (actor, input) => {
    if (actor.kind !== "staff") throw new BankError("not_found");
    const parsed = parseOperationInput(changeStaffRoleSchema, input);
    return stepUpPayloadHash({ action: "staff_change_role", userId: actor.userId, staffId: parsed.staffId, role: parsed.role });
  },
  staff_remove_access: (actor, input) => {
    if (actor.kind !== "staff") throw new BankError("not_found");
    const parsed = parseOperationInput(removeStaffAccessSchema, input);
    return stepUpPayloadHash({ action: "staff_remove_access", userId: actor.userId, staffId: parsed.staffId });
  },
  staff_approve_admin_grant: (actor, input) => {
    if (actor.kind !== "staff") throw new BankError("not_found");
    const parsed = parseOperationInput(approveAdminGrantSchema, input);
    return stepUpPayloadHash({ action: "staff_approve_admin_grant", userId: actor.userId, requestId: parsed.requestId });
  },
  // Back office, lost authenticator (lib/admin/mfa-reset): a code typed to request the reset of one customer's
  // second factor never requests it for another customer. The reason is free text and not part of what is
  // confirmed; it is recorded with the request.
  staff_request_mfa_reset: (actor, input) => {
    if (actor.kind !== "staff") throw new BankError("not_found");
    const parsed = requestMfaResetSchema.shape.customerId.safeParse(
      typeof input === "object" && input !== null && "customerId" in input ? input.customerId : undefined,
    );
    if (!parsed.success) throw new BankError("invalid_input", { internalMessage: "step-up operation input does not parse" });
    return stepUpPayloadHash({ action: "staff_request_mfa_reset", staffId: actor.userId, customerId: parsed.data });
  },
  // A code typed to approve one request approves exactly that request.
  staff_approve_mfa_reset: (actor, input) => {
    if (actor.kind !== "staff") throw new BankError("not_found");
    const parsed = mfaResetDecisionSchema.safeParse(input);
    if (!parsed.success) throw new BankError("invalid_input", { internalMessage: "step-up operation input does not parse" });
    return stepUpPayloadHash({ action: "staff_approve_mfa_reset", staffId: actor.userId, requestId: parsed.data.requestId });
  },
};

function parseOperationInput<Output>(schema: { safeParse: (input: unknown) => { success: true; data: Output } | { success: false } }, input: unknown): Output {
  const parsed = schema.safeParse(input);
  if (!parsed.success) throw new BankError("invalid_input", { internalMessage: "step-up operation input does not parse" });
  return parsed.data;
}

/** The payload hash that a confirmation for `operation` by `actor`, with the operation's `input`, is bound to. */
export function stepUpOperationHash(operation: StepUpOperationName, actor: SessionActor, input?: unknown): string {
  return payloadHashBuilders[operation](actor, input);
}
