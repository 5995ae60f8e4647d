/**
 * Money handling for the whole application, server and browser alike.
 *
 * Every amount is a `bigint` count of minor units (pence, cents, fils…) from the moment a customer types it
 * until it is formatted for display. Floating point never touches an amount: `0.1 + 0.2 !== 0.3` in binary
 * floating point, and a JS number silently loses whole units above 2^53, so parsing works on the digit
 * characters and formatting hands `Intl.NumberFormat` an exact decimal string instead of a number.
 *
 * This module is imported by client components, so it must not import "server-only" or any Node-only module.
 */
import { BankError, assert } from "@/lib/errors";

/**
 * The largest amount, in minor units, that any single value may hold (10^15, about ten trillion pounds).
 * No genuine customer amount comes close; the cap exists so that absurd or malicious inputs are rejected at
 * the edge rather than discovered downstream in a database column or a ledger total.
 */
export const MAX_AMOUNT_MINOR: bigint = 10n ** 15n;

/**
 * Raw inputs longer than this are rejected before any trimming or regex work, so the cost of parsing is
 * bounded no matter what is posted to us. Thirty-two characters comfortably fits the largest allowed amount
 * written with grouping separators, decimals and some surrounding whitespace.
 */
export const MAX_AMOUNT_INPUT_LENGTH = 32;

const currencyCodePattern = /^[A-Z]{3}$/;

/**
 * The integer part of an amount a customer may type (everything before the decimal point, after trimming):
 * plain digits ("1234", leading zeros tolerated so that "0.10" works), or digits grouped in threes by commas
 * ("1,234,567"), or grouped in threes by one kind of space (regular, no-break U+00A0, thin U+2009 or narrow
 * no-break U+202F, as produced by European formatters). Mixing commas and spaces is rejected as ambiguous.
 *
 * The pattern is anchored and each repeated group starts with a mandatory separator, so there is only one way
 * to match any input and no catastrophic backtracking is possible. Groups are written `\d\d\d` rather than
 * `\d{3}`, and the decimal point is split off in code rather than matched with an optional group, because
 * eslint-plugin-security's detect-unsafe-regex counts every quantifier (even `{3}` and `?`) towards star
 * height and flags anything nested. `\d` without the `u` flag only matches ASCII 0-9, so full-width or other
 * script digits are rejected rather than misread.
 */
const integerPartPattern = /^(?:\d+|[1-9]\d{0,2}(?:,\d\d\d)+|[1-9]\d{0,2}(?:[ \u00A0\u2009\u202F]\d\d\d)+)$/;

/** The fractional part of a typed amount: one or more ASCII digits, nothing else. */
const fractionPartPattern = /^\d+$/;

/** Every grouping separator the amount pattern accepts, removed before the digits are converted. */
const groupingSeparatorPattern = /[, \u00A0\u2009\u202F]/g;

/**
 * What an exact decimal string produced by `minorToDecimalString` looks like, as two flat patterns for the
 * same star-height reason as above: a whole number, or a number with a fractional part.
 */
const wholeDecimalStringPattern = /^-?\d+$/;
const fractionalDecimalStringPattern = /^-?\d+\.\d+$/;

/**
 * Minor-unit digit counts looked up so far. Intl.NumberFormat construction is comparatively slow and this is
 * called for every amount; the map is bounded because keys are validated as three upper-case letters first.
 */
const minorUnitDigitsCache = new Map<string, number>();

function invalidInput(userMessage: string): BankError {
  return new BankError("invalid_input", { userMessage });
}

/**
 * The number of digits after the decimal point for an ISO 4217 currency (GBP, EUR and USD have 2, JPY has 0,
 * BHD and KWD have 3), as reported by the runtime's Intl data, so the browser and the server agree.
 *
 * Note that Intl accepts any well-formed three-letter code, including unassigned ones (they get 2 digits);
 * deciding which currencies the bank actually supports is the caller's job, not this function's.
 */
export function minorUnitDigits(currency: string): number {
  const cachedDigits = minorUnitDigitsCache.get(currency);
  if (cachedDigits !== undefined) {
    return cachedDigits;
  }
  if (!currencyCodePattern.test(currency)) {
    throw invalidInput("Please choose a valid currency.");
  }
  let digits: number | undefined;
  try {
    digits = new Intl.NumberFormat("en", { style: "currency", currency }).resolvedOptions().maximumFractionDigits;
  } catch (cause) {
    throw new BankError("invalid_input", { userMessage: "Please choose a valid currency.", cause });
  }
  // The type allows undefined, but for style "currency" the runtime always resolves a value; anything else
  // would be a broken Intl implementation, which is our problem rather than the customer's.
  assert(
    typeof digits === "number" && Number.isInteger(digits) && digits >= 0,
    `Intl returned no usable fraction digit count for ${currency}`,
  );
  minorUnitDigitsCache.set(currency, digits);
  return digits;
}

/**
 * Parses an amount exactly as a customer typed it (for example "1,234.56", " 1 234.56 ", ".5" or "10") into
 * minor units of `currency`. Zero is accepted; use `parsePositiveAmountToMinor` where zero makes no sense.
 *
 * Rejected with an `invalid_input` BankError: empty input, signs ("-5", "+5"), letters, exponents ("1e3"),
 * "Infinity"/"NaN", more than one ".", misplaced or mixed grouping separators ("1,23.00", "12,,345"), more
 * decimal places than the currency has (never rounded, since rounding a customer's amount silently changes
 * what they asked for), and amounts above `MAX_AMOUNT_MINOR`.
 */
export function parseAmountToMinor(input: string, currency: string): bigint {
  // Resolve the currency first so that a bad currency is reported as such, not as a bad amount.
  const digitsAfterPoint = minorUnitDigits(currency);

  if (input.length > MAX_AMOUNT_INPUT_LENGTH) {
    throw invalidInput("That amount is too long. Please enter a shorter amount.");
  }
  const trimmed = input.trim();
  if (trimmed === "") {
    throw invalidInput("Please enter an amount.");
  }
  // Signs get their own message because "-10" is a plausible thing to type and "not a valid amount" would
  // not explain what is wrong with it.
  if (trimmed.startsWith("-") || trimmed.startsWith("+")) {
    throw invalidInput("Please enter the amount without a plus or minus sign.");
  }

  const notAnAmountMessage = "Please enter an amount using digits only, for example 1,234.56.";
  const [integerText, fractionDigits, ...extraParts] = trimmed.split(".");
  if (integerText === undefined || extraParts.length > 0) {
    throw invalidInput("Please enter an amount with at most one decimal point.");
  }
  // The integer part may be omitted (".5" is fifty pence), but a fractional part, if the point is there,
  // may not: "5." and a lone "." are treated as unfinished input rather than guessed at.
  if (integerText !== "" && !integerPartPattern.test(integerText)) {
    throw invalidInput(notAnAmountMessage);
  }
  if (fractionDigits !== undefined && !fractionPartPattern.test(fractionDigits)) {
    throw invalidInput(notAnAmountMessage);
  }

  if (fractionDigits !== undefined && fractionDigits.length > digitsAfterPoint) {
    throw invalidInput(
      digitsAfterPoint === 0
        ? `${currency} amounts cannot have a decimal part. Please enter a whole number.`
        : `${currency} amounts can have at most ${digitsAfterPoint} digits after the decimal point.`,
    );
  }

  const integerDigits = integerText === "" ? "0" : integerText.replace(groupingSeparatorPattern, "");
  // The trimmed input is not empty, so when the integer part is empty a fractional part was given (".5"):
  // the amount always contains at least one digit by this point. padEnd then turns "5" into "50" for a
  // two-digit currency, so ".5" means fifty pence rather than five.
  const paddedFractionDigits = (fractionDigits ?? "").padEnd(digitsAfterPoint, "0");
  // BigInt of a validated ASCII digit string is exact integer arithmetic; no floating point is involved.
  const amountMinor =
    BigInt(integerDigits) * 10n ** BigInt(digitsAfterPoint) +
    (paddedFractionDigits === "" ? 0n : BigInt(paddedFractionDigits));

  if (amountMinor > MAX_AMOUNT_MINOR) {
    throw invalidInput("That amount is larger than we can accept.");
  }
  return amountMinor;
}

/** Like `parseAmountToMinor`, but also rejects zero, for payments and transfers where zero is meaningless. */
export function parsePositiveAmountToMinor(input: string, currency: string): bigint {
  const amountMinor = parseAmountToMinor(input, currency);
  if (amountMinor === 0n) {
    throw invalidInput("Please enter an amount greater than zero.");
  }
  return amountMinor;
}

/**
 * The exact decimal representation of an amount in major units, with exactly the currency's number of
 * decimals: 123456n GBP → "1234.56", -5n GBP → "-0.05", 500n JPY → "500", 1234n BHD → "1.234".
 * This is the form the JSON API exposes, because JSON numbers are read as binary floats by most clients.
 */
export function minorToDecimalString(amountMinor: bigint, currency: string): string {
  const digitsAfterPoint = minorUnitDigits(currency);
  const sign = amountMinor < 0n ? "-" : "";
  const absoluteDigits = (amountMinor < 0n ? -amountMinor : amountMinor).toString();
  if (digitsAfterPoint === 0) {
    return `${sign}${absoluteDigits}`;
  }
  // Left-pad so there is always at least one integer digit: 5n becomes "005" and then "0.05".
  const paddedDigits = absoluteDigits.padStart(digitsAfterPoint + 1, "0");
  const integerPart = paddedDigits.slice(0, paddedDigits.length - digitsAfterPoint);
  const fractionPart = paddedDigits.slice(paddedDigits.length - digitsAfterPoint);
  return `${sign}${integerPart}.${fractionPart}`;
}

/**
 * Narrows a decimal string to the numeric-string type that `Intl.NumberFormat.prototype.format` accepts,
 * checking at run time instead of casting so that the type claim cannot silently become false.
 */
function isStringNumericLiteral(decimal: string): decimal is Intl.StringNumericLiteral {
  return wholeDecimalStringPattern.test(decimal) || fractionalDecimalStringPattern.test(decimal);
}

/**
 * Formats an amount for display, for example 123456n GBP → "£1,234.56" and -5n GBP → "-£0.05".
 *
 * The amount is passed to Intl as an exact decimal string, never as a number: since ES2023 (Node 20,
 * current browsers) `format` treats numeric strings as exact decimals, so 9007199254740993n minor units
 * keep every digit, whereas `Number(amountMinor)` would already have been rounded.
 */
export function formatMinor(amountMinor: bigint, currency: string, locale = "en-GB"): string {
  const decimal = minorToDecimalString(amountMinor, currency);
  assert(isStringNumericLiteral(decimal), "minorToDecimalString produced a non-numeric string");
  let formatter: Intl.NumberFormat;
  try {
    formatter = new Intl.NumberFormat(locale, { style: "currency", currency });
  } catch (cause) {
    // The currency was already validated above, so only the locale can be at fault here.
    throw new BankError("invalid_input", { userMessage: "Please choose a valid language.", cause });
  }
  return formatter.format(decimal);
}
