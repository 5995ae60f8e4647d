import { z } from "zod";
import { strictObject, text } from "@/lib/validation/fields";
import { amountTextField, memoField, transferRequestInputSchema, transferRequestSchema } from "@/lib/validation/transfer";

/**
 * The JSON API's view of transfers: the request bodies (built from the one transfer request schema in
 * lib/validation/transfer.ts, so the API, the server action and the form cannot drift apart) and the shapes
 * of the answers, which the route handlers build and the OpenAPI document (lib/http/openapi.ts) describes.
 * No `server-only`: nothing here touches data.
 */

/**
 * `POST /api/v1/transfers` body: the transfer request without its idempotency key, which API clients send in
 * the `Idempotency-Key` header instead (the IETF httpapi Idempotency-Key draft).
 */
export const transferApiBodySchema = transferRequestInputSchema.omit({ idempotencyKey: true }).extend({
  fromAccountId: transferRequestInputSchema.shape.fromAccountId.describe("The caller's account the money leaves."),
  to: transferRequestInputSchema.shape.to.describe("Another of the caller's accounts, or one of their saved payees."),
  amount: amountTextField.describe(
    'The amount in major units as text, as a person would type it: "12.34". More than 0, at most two decimals.',
  ),
  memo: memoField.describe("An optional reference, at most 140 characters once control characters are removed."),
});

/**
 * `POST /api/v1/transfers/confirmations` body: a code from the authenticator app and the exact transfer it
 * confirms, idempotency key included. The server computes the hash the confirmation is bound to itself.
 */
export const transferConfirmationApiBodySchema = strictObject({
  code: text({ min: 1, max: 64, tooShort: "Enter the code.", tooLong: "That code is too long." }),
  transfer: transferRequestSchema,
});

/** Amounts leave the API as strings: minor units (exact) and the decimal form in major units. */
const minorUnits = z.string().regex(/^-?\d+$/).describe("Amount in minor units (pence), as a string of digits.");
const decimalAmount = z
  .string()
  .describe('The same amount in major units, exactly, as a decimal string such as "12.34" (never a JSON number).');
const timestamp = z.iso.datetime({ offset: true }).describe("RFC 3339 timestamp.");

export const transferStatusSchema = z
  .enum(["posted", "held", "rejected", "reversed"])
  .describe("posted: in the ledger; held: waiting for staff review (the amount is reserved); rejected; reversed.");

/** The answer of `POST /api/v1/transfers`: what was (or, for a replay, had been) created. */
export const createdTransferSchema = z.object({
  transfer: z.object({
    id: z.uuid(),
    status: transferStatusSchema,
    fromAccountId: z.uuid(),
    to: z.discriminatedUnion("kind", [
      z.object({ kind: z.literal("own_account"), accountId: z.uuid() }),
      z.object({ kind: z.literal("payee"), payeeId: z.uuid() }),
    ]),
    amountMinor: minorUnits,
    amount: decimalAmount,
    currency: z.string().length(3),
    memo: z.string(),
  }),
});

/** The answer of `GET /api/v1/transfers/{id}`. */
export const transferDetailsSchema = z.object({
  transfer: z.object({
    id: z.uuid(),
    status: transferStatusSchema,
    kind: z.enum(["deposit", "internal", "external", "reversal"]),
    direction: z.enum(["outgoing", "incoming", "between_own_accounts"]),
    amountMinor: minorUnits,
    amount: decimalAmount,
    currency: z.string().length(3),
    fromAccountId: z.uuid().nullable().describe("The debited account, when it is one of the caller's."),
    fromAccountNumber: z.string().nullable(),
    toAccountId: z.uuid().nullable().describe("The credited account, when it is one of the caller's."),
    toAccountNumber: z.string().nullable().describe("The credited account number, when it is the caller's or their payee's."),
    payeeName: z.string().nullable().describe("The name the caller saved for the payee, if this went to one of theirs."),
    memo: z.string(),
    createdAt: timestamp,
    postedAt: timestamp.nullable(),
  }),
});

/** The answer of `GET /api/v1/accounts`. */
export const accountListSchema = z.object({
  accounts: z.array(
    z.object({
      id: z.uuid(),
      accountNumber: z.string(),
      kind: z.enum(["checking", "savings"]),
      nickname: z.string(),
      currency: z.string().length(3),
      status: z.enum(["active", "frozen", "closed"]),
      balanceMinor: minorUnits,
      availableMinor: minorUnits,
      balance: decimalAmount,
      available: decimalAmount,
    }),
  ),
});

/** The answer of `GET /api/v1/whoami`. */
export const whoAmISchema = z.object({ userId: z.uuid() });

/** Every error answer: an RFC 9457 problem document (lib/http/problem.ts builds it). */
export const problemSchema = z.object({
  type: z.string(),
  title: z.string().describe("A message that can be shown to the customer as it is."),
  status: z.number().int(),
  code: z
    .string()
    .describe("Stable machine-readable code, e.g. invalid_input, not_found, insufficient_funds, step_up_required."),
  errors: z.record(z.string(), z.array(z.string())).optional().describe("Messages per request field."),
  details: z
    .record(z.string(), z.unknown())
    .optional()
    .describe("Facts the client needs to act, e.g. confirmationPayloadHash for step_up_required."),
});
