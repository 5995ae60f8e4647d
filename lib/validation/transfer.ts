import { z } from "zod";
import { bankCurrency } from "@/lib/accounts/bank-currency";
import { BankError, isBankError } from "@/lib/errors";
import { parsePositiveAmountToMinor } from "@/lib/money";
import { strictObject, text } from "@/lib/validation/fields";

/**
 * The one schema of a transfer request, used by the server action, the JSON API (and its OpenAPI document)
 * and the browser form. No `server-only`: the form checks the same rules before it sends anything.
 *
 * The amount is text, as typed, and becomes bigint minor units through lib/money.ts (never a float); the
 * memo is cleaned of control and bidi characters and capped at 140 characters; the idempotency key is chosen
 * by the client (the form makes one per attempt, API clients send the `Idempotency-Key` header).
 */
export const maximumMemoLength = 140;

const uuidField = (message: string) => z.uuid({ error: message });

export const idempotencyKeyField = z
  .string({ error: "An idempotency key is required." })
  .regex(/^[A-Za-z0-9_-]{8,128}$/, "An idempotency key is 8 to 128 letters, digits, '-' or '_'.");

export const amountTextField = z
  .string({ error: "Enter an amount." })
  .max(64, "That amount is too long.")
  .transform((value, context) => {
    try {
      return parsePositiveAmountToMinor(value, bankCurrency);
    } catch (error) {
      context.addIssue({ code: "custom", message: isBankError(error) ? error.userMessage : "Enter a valid amount." });
      return z.NEVER;
    }
  });

export const memoField = text({
  max: maximumMemoLength,
  tooLong: `Use at most ${maximumMemoLength} characters for the reference.`,
})
  .optional()
  .transform((value) => value ?? "");

export const transferDestinationSchema = z.discriminatedUnion("kind", [
  strictObject({ kind: z.literal("own_account"), accountId: uuidField("Choose an account to move money to.") }),
  strictObject({ kind: z.literal("payee"), payeeId: uuidField("Choose a payee.") }),
]);

/** The request as sent: the amount is text as the customer typed it. */
export const transferRequestInputSchema = strictObject({
  fromAccountId: uuidField("Choose an account to send from."),
  to: transferDestinationSchema,
  amount: amountTextField,
  memo: memoField,
  idempotencyKey: idempotencyKeyField,
});

/** The parsed request: the amount is bigint minor units under a name that says so. */
export const transferRequestSchema = transferRequestInputSchema
  .refine((request) => request.to.kind !== "own_account" || request.to.accountId !== request.fromAccountId, {
    path: ["to"],
    message: "Choose a different account to move money to.",
  })
  .transform(({ amount, ...rest }) => ({ ...rest, amountMinor: amount }));

export type TransferRequestInput = z.input<typeof transferRequestSchema>;
export type TransferRequest = z.output<typeof transferRequestSchema>;

/** Parses a transfer request, turning zod issues into a BankError with field messages. */
export function parseTransferRequest(input: unknown): TransferRequest {
  const parsed = transferRequestSchema.safeParse(input);
  if (parsed.success) return parsed.data;
  const fieldErrors: Record<string, string[]> = {};
  for (const issue of parsed.error.issues) {
    const key = issue.path.length > 0 ? issue.path.map(String).join(".") : "form";
    (fieldErrors[key] ??= []).push(issue.message);
  }
  throw new BankError("invalid_input", { fieldErrors });
}
