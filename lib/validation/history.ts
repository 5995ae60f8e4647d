import { z } from "zod";
import { bankCurrency } from "@/lib/accounts/bank-currency";
import { BankError, isBankError } from "@/lib/errors";
import { minorToDecimalString, parseAmountToMinor } from "@/lib/money";
import { strictObject, text } from "@/lib/validation/fields";

/**
 * The one schema of a transaction-history query, shared by the history page (its GET form), the CSV export
 * and `GET /api/v1/accounts/{id}/transactions` (and the OpenAPI document built from it). No `server-only`:
 * it only parses text.
 *
 * Every value arrives as text from a query string. Empty values are removed before parsing
 * (`searchParamsToQueryInput`), because a GET form sends every field, filled or not. Amounts are typed as
 * text and become bigint minor units through lib/money.ts; they bound the absolute amount of an entry, so
 * "at least 10.00" finds both a payment of 10.00 and a receipt of 10.00. Dates are calendar days in UTC,
 * both ends included.
 */

export const historyPageSizeDefault = 25;
export const historyPageSizeMaximum = 100;
export const historyTextMaximumLength = 100;

/** A cursor is the base64url form of an entry sequence number: a positive 64-bit integer in decimal. */
const cursorDigitsPattern = /^[1-9]\d{0,18}$/;
const cursorTextPattern = /^[A-Za-z0-9_-]{1,32}$/;
const largestSequence = 2n ** 63n - 1n;

/** The opaque cursor for "entries older than this sequence". */
export function encodeHistoryCursor(sequence: bigint): string {
  return base64UrlEncode(sequence.toString());
}

/** The sequence inside a cursor, or null when the text is not a cursor this server could have issued. */
export function decodeHistoryCursor(cursor: string): bigint | null {
  if (!cursorTextPattern.test(cursor)) return null;
  const digits = base64UrlDecode(cursor);
  if (digits === null || !cursorDigitsPattern.test(digits)) return null;
  const sequence = BigInt(digits);
  if (sequence > largestSequence) return null;
  // Only the canonical spelling is accepted, so one position has one cursor.
  return encodeHistoryCursor(sequence) === cursor ? sequence : null;
}

// btoa/atob exist in Node 20 and in browsers; the cursor only ever holds ASCII digits.
function base64UrlEncode(ascii: string): string {
  return btoa(ascii).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

function base64UrlDecode(encoded: string): string | null {
  try {
    const padded = encoded.replaceAll("-", "+").replaceAll("_", "/").padEnd(Math.ceil(encoded.length / 4) * 4, "=");
    return atob(padded);
  } catch {
    // Not base64 at all: the caller reports an invalid cursor.
    return null;
  }
}

const dateField = (message: string) =>
  z.iso.date({ error: message }).refine((value) => value >= "2000-01-01" && value <= "9999-12-31", { error: message });

const amountBoundField = (message: string) =>
  z
    .string({ error: message })
    .max(64, "That amount is too long.")
    .transform((value, context) => {
      try {
        return parseAmountToMinor(value, bankCurrency);
      } catch (error) {
        context.addIssue({ code: "custom", message: isBankError(error) ? error.userMessage : message });
        return z.NEVER;
      }
    });

/** The filters every history query accepts, whether the account comes from the query or from the path. */
const historyFilterFields = {
  from: dateField("Enter a start date as YYYY-MM-DD.").optional(),
  to: dateField("Enter an end date as YYYY-MM-DD.").optional(),
  min: amountBoundField("Enter a smallest amount, for example 10.00.").optional(),
  max: amountBoundField("Enter a largest amount, for example 250.00.").optional(),
  direction: z.enum(["in", "out"], { error: "Choose money in or money out." }).optional(),
  text: text({
    max: historyTextMaximumLength,
    tooLong: `Search for at most ${historyTextMaximumLength} characters.`,
  }).optional(),
  cursor: z
    .string({ error: "That page link is not valid." })
    .max(32, "That page link is not valid.")
    .transform((value, context) => {
      const sequence = decodeHistoryCursor(value);
      if (sequence === null) {
        context.addIssue({ code: "custom", message: "That page link is not valid." });
        return z.NEVER;
      }
      return sequence;
    })
    .optional(),
  limit: z
    .string({ error: `Ask for 1 to ${historyPageSizeMaximum} entries.` })
    .regex(/^\d{1,3}$/, `Ask for 1 to ${historyPageSizeMaximum} entries.`)
    .transform(Number)
    .pipe(
      z
        .number()
        .int()
        .min(1, `Ask for 1 to ${historyPageSizeMaximum} entries.`)
        .max(historyPageSizeMaximum, `Ask for 1 to ${historyPageSizeMaximum} entries.`),
    )
    .optional(),
};

/** A parsed history query: units in the names, the cursor already decoded and checked. */
export interface HistoryQuery {
  accountId: string | undefined;
  fromDate: string | undefined;
  toDate: string | undefined;
  minimumAmountMinor: bigint | undefined;
  maximumAmountMinor: bigint | undefined;
  direction: "in" | "out" | undefined;
  text: string | undefined;
  beforeSequence: bigint | undefined;
  pageSize: number;
}

interface ParsedFilters {
  from?: string | undefined;
  to?: string | undefined;
  min?: bigint | undefined;
  max?: bigint | undefined;
  direction?: "in" | "out" | undefined;
  text?: string | undefined;
  cursor?: bigint | undefined;
  limit?: number | undefined;
}

function checkRanges(filters: ParsedFilters, context: z.RefinementCtx): void {
  if (filters.from !== undefined && filters.to !== undefined && filters.from > filters.to) {
    context.addIssue({ code: "custom", path: ["to"], message: "The end date must not be before the start date." });
  }
  if (filters.min !== undefined && filters.max !== undefined && filters.min > filters.max) {
    context.addIssue({ code: "custom", path: ["max"], message: "The largest amount must not be below the smallest." });
  }
}

function toHistoryQuery(filters: ParsedFilters, accountId: string | undefined): HistoryQuery {
  return {
    accountId,
    fromDate: filters.from,
    toDate: filters.to,
    minimumAmountMinor: filters.min,
    maximumAmountMinor: filters.max,
    direction: filters.direction,
    // An all-blank search is no search.
    text: filters.text === "" ? undefined : filters.text,
    beforeSequence: filters.cursor,
    pageSize: filters.limit ?? historyPageSizeDefault,
  };
}

/** The query parameters of the history page and the CSV export (the account is a filter there). */
export const historyQueryParametersSchema = strictObject({
  account: z.uuid({ error: "Choose one of your accounts." }).optional(),
  ...historyFilterFields,
});

/** The history page's and the CSV export's query, parsed. */
export const historyQuerySchema = historyQueryParametersSchema
  .superRefine(checkRanges)
  .transform(({ account, ...filters }) => toHistoryQuery(filters, account));

/** The query parameters of `GET /api/v1/accounts/{id}/transactions` (the account is in the path). */
export const accountTransactionsQueryParametersSchema = strictObject(historyFilterFields);

/** `GET /api/v1/accounts/{id}/transactions`'s query, parsed; the route puts the path's account id in. */
export const accountTransactionsQuerySchema = accountTransactionsQueryParametersSchema
  .superRefine(checkRanges)
  .transform((filters) => toHistoryQuery(filters, undefined));

/**
 * Query-string pairs as the object the schemas parse: blank values are dropped (a GET form sends every field)
 * and a parameter given twice is refused rather than silently resolved one way or the other.
 */
export function searchParamsToQueryInput(
  parameters: URLSearchParams | Record<string, string | string[] | undefined>,
): Record<string, string> {
  const pairs: [string, string][] = [];
  if (parameters instanceof URLSearchParams) {
    for (const [key, value] of parameters) pairs.push([key, value]);
  } else {
    for (const [key, value] of Object.entries(parameters)) {
      if (value === undefined) continue;
      for (const single of Array.isArray(value) ? value : [value]) pairs.push([key, single]);
    }
  }
  const input: Record<string, string> = {};
  const seen = new Set<string>();
  for (const [key, value] of pairs) {
    if (seen.has(key)) {
      throw new BankError("invalid_input", { fieldErrors: { [key]: ["Give this filter only once."] } });
    }
    seen.add(key);
    if (value.trim() !== "") input[key] = value;
  }
  return input;
}

/** Turns zod issues into a BankError with field messages, the way every parser of the project reports. */
export function parseWithFieldErrors<Output>(schema: z.ZodType<Output>, input: unknown): Output {
  const parsed = schema.safeParse(input);
  if (parsed.success) return parsed.data;
  const fieldErrors: Record<string, string[]> = {};
  for (const issue of parsed.error.issues) {
    const key = issue.path.length > 0 ? issue.path.map(String).join(".") : "form";
    (fieldErrors[key] ??= []).push(issue.message);
  }
  throw new BankError("invalid_input", { fieldErrors });
}

/** The page and the export: a query string into a history query, or a BankError with field messages. */
export function parseHistoryQuery(
  parameters: URLSearchParams | Record<string, string | string[] | undefined>,
): HistoryQuery {
  return parseWithFieldErrors(historyQuerySchema, searchParamsToQueryInput(parameters));
}

/** Back into query-string form (for "Older" and "Export CSV" links), without the cursor unless asked. */
export function historyQueryToSearchParams(query: HistoryQuery, options: { cursor?: string | null } = {}): URLSearchParams {
  const parameters = new URLSearchParams();
  if (query.accountId) parameters.set("account", query.accountId);
  if (query.fromDate) parameters.set("from", query.fromDate);
  if (query.toDate) parameters.set("to", query.toDate);
  if (query.minimumAmountMinor !== undefined) parameters.set("min", minorToPlainText(query.minimumAmountMinor));
  if (query.maximumAmountMinor !== undefined) parameters.set("max", minorToPlainText(query.maximumAmountMinor));
  if (query.direction) parameters.set("direction", query.direction);
  if (query.text) parameters.set("text", query.text);
  if (query.pageSize !== historyPageSizeDefault) parameters.set("limit", String(query.pageSize));
  if (options.cursor) parameters.set("cursor", options.cursor);
  return parameters;
}

/** An amount bound as the plain text the amount parser reads back exactly ("1234.50"). */
function minorToPlainText(amountMinor: bigint): string {
  return minorToDecimalString(amountMinor, bankCurrency);
}

/**
 * The answer of `GET /api/v1/accounts/{id}/transactions`, for the OpenAPI document; the route handler's
 * output is checked against it by type. Amounts are strings: minor units (`amountMinor`, signed, negative
 * for money out) and the exact decimal (`amount`), because JSON numbers lose bigint precision.
 */
const minorUnitsText = z.string().regex(/^-?\d+$/).describe("An amount in minor units, as a string of digits.");
// Two flat patterns rather than one with an optional group (see lib/money.ts on eslint's star-height rule).
const decimalText = z
  .union([z.string().regex(/^-?\d+$/), z.string().regex(/^-?\d+\.\d+$/)])
  .describe("The same amount as an exact decimal string.");

export const accountTransactionSchema = z.object({
  id: z.uuid(),
  postedAt: z.iso.datetime(),
  direction: z.enum(["in", "out"]),
  amountMinor: minorUnitsText,
  amount: decimalText,
  balanceAfterMinor: minorUnitsText,
  balanceAfter: decimalText,
  currency: z.string().regex(/^[A-Z]{3}$/),
  counterparty: z.string().describe("The customer's own account nickname, their payee's name, \"Harbour Bank\" or \"Payment received\"."),
  memo: z.string().nullable(),
  transferId: z.uuid(),
  transferKind: z.enum(["deposit", "internal", "external", "reversal"]),
  transferStatus: z.enum(["posted", "held", "rejected", "reversed"]),
});

export const accountTransactionsResponseSchema = z.object({
  transactions: z.array(accountTransactionSchema),
  nextCursor: z.string().nullable().describe("Pass as `cursor` for the next (older) page; null at the end."),
  searchStoppedEarly: z
    .boolean()
    .describe("A text search spent its scan budget before filling the page; continue with nextCursor."),
});
