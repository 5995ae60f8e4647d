import { describe, it, expect } from "vitest";

import { BankError } from "@/lib/errors";
import {
  MAX_AMOUNT_MINOR,
  formatMinor,
  minorToDecimalString,
  minorUnitDigits,
  parseAmountToMinor,
  parsePositiveAmountToMinor,
} from "@/lib/money";

/** Runs `action` and returns the BankError it throws, failing the test if it throws nothing or something else. */
function bankErrorFrom(action: () => unknown): BankError {
  try {
    action();
  } catch (error) {
    if (error instanceof BankError) {
      return error;
    }
    throw error;
  }
  throw new Error("expected a BankError to be thrown, but nothing was thrown");
}

function expectInvalidInput(action: () => unknown): BankError {
  const error = bankErrorFrom(action);
  expect(error.code).toBe("invalid_input");
  // The user message must be a real sentence, not the generic default for the code.
  expect(error.userMessage).not.toBe("Please check the highlighted fields.");
  expect(error.userMessage).toMatch(/^[A-Z].*\.$/);
  return error;
}

describe("minorUnitDigits", () => {
  it.each([
    ["GBP", 2],
    ["EUR", 2],
    ["USD", 2],
    ["JPY", 0],
    ["BHD", 3],
    ["KWD", 3],
  ])("reports %s as having %i minor-unit digits", (currency, expectedDigits) => {
    expect(minorUnitDigits(currency)).toBe(expectedDigits);
  });

  it.each(["gbp", "GB", "GBPX", "", " GBP", "G1P", "ＧＢＰ"])("rejects the malformed currency code %j", (currency) => {
    const error = expectInvalidInput(() => minorUnitDigits(currency));
    expect(error.userMessage).toBe("Please choose a valid currency.");
  });

  it("rejects a bad currency passed to the parser as a currency problem, not an amount problem", () => {
    const error = expectInvalidInput(() => parseAmountToMinor("10", "pounds"));
    expect(error.userMessage).toBe("Please choose a valid currency.");
  });
});

describe("parseAmountToMinor", () => {
  it("parses 1,234.56 into 123456 minor units", () => {
    expect(parseAmountToMinor("1,234.56", "GBP")).toBe(123456n);
  });

  it.each([
    ["1234.56", 123456n],
    ["1,234.56", 123456n],
    [" 1 234.56 ", 123456n],
    ["1\u2009234.56", 123456n],
    ["1\u202F234.56", 123456n],
    ["1\u00A0234.56", 123456n],
    ["1,234,567.89", 123456789n],
    ["\t42\n", 4200n],
    [".5", 50n],
    ["10", 1000n],
    ["0.10", 10n],
    ["0.1", 10n],
    ["0.01", 1n],
    ["0", 0n],
    ["0.00", 0n],
    ["007", 700n],
    ["999", 99900n],
    ["1000", 100000n],
  ])("parses %j as %s GBP minor units", (input, expectedMinor) => {
    expect(parseAmountToMinor(input, "GBP")).toBe(expectedMinor);
  });

  it("avoids the 0.1 + 0.2 floating point trap: 0.1 + 0.2 is exactly 0.3", () => {
    const sumMinor = parseAmountToMinor("0.1", "GBP") + parseAmountToMinor("0.2", "GBP");
    expect(sumMinor).toBe(parseAmountToMinor("0.3", "GBP"));
    expect(sumMinor).toBe(30n);
    expect(formatMinor(sumMinor, "GBP")).toBe("£0.30");
  });

  it.each([
    ["1.234", "GBP"],
    ["0.001", "GBP"],
    ["1.230", "GBP"],
    ["1.2345", "BHD"],
    ["500.0", "JPY"],
    ["1.5", "JPY"],
  ])("rejects %j in %s as having too many decimals instead of rounding it", (input, currency) => {
    const error = expectInvalidInput(() => parseAmountToMinor(input, currency));
    expect(error.userMessage).toContain(currency);
  });

  it("tells the customer how many decimals the currency allows", () => {
    expect(expectInvalidInput(() => parseAmountToMinor("1.234", "GBP")).userMessage).toContain("at most 2 digits");
    expect(expectInvalidInput(() => parseAmountToMinor("1.5", "JPY")).userMessage).toContain("whole number");
  });

  it.each(["-1", "-0.01", "-0", "+1", "+0.50", " -5 ", "−5"])("rejects the signed amount %j", (input) => {
    expectInvalidInput(() => parseAmountToMinor(input, "GBP"));
  });

  it("explains that signs are not allowed when the customer types one", () => {
    expect(expectInvalidInput(() => parseAmountToMinor("-10", "GBP")).userMessage).toContain("sign");
    expect(expectInvalidInput(() => parseAmountToMinor("+10", "GBP")).userMessage).toContain("sign");
  });

  it("parses a zero-decimal currency (JPY) without scaling", () => {
    expect(parseAmountToMinor("500", "JPY")).toBe(500n);
    expect(parseAmountToMinor("1,234,567", "JPY")).toBe(1234567n);
  });

  it("parses a three-decimal currency (BHD) into thousandths", () => {
    expect(parseAmountToMinor("1.234", "BHD")).toBe(1234n);
    expect(parseAmountToMinor("1.5", "BHD")).toBe(1500n);
    expect(parseAmountToMinor(".001", "KWD")).toBe(1n);
    expect(parseAmountToMinor("2", "KWD")).toBe(2000n);
  });

  it("accepts exactly MAX_AMOUNT_MINOR and rejects one minor unit more", () => {
    expect(MAX_AMOUNT_MINOR).toBe(10n ** 15n);
    expect(parseAmountToMinor("10000000000000.00", "GBP")).toBe(MAX_AMOUNT_MINOR);
    expect(parseAmountToMinor("10,000,000,000,000", "GBP")).toBe(MAX_AMOUNT_MINOR);
    expect(parseAmountToMinor("1000000000000000", "JPY")).toBe(MAX_AMOUNT_MINOR);
    const error = expectInvalidInput(() => parseAmountToMinor("10000000000000.01", "GBP"));
    expect(error.userMessage).toContain("larger than we can accept");
    expectInvalidInput(() => parseAmountToMinor("1000000000000001", "JPY"));
  });

  it("rejects amounts far above the maximum without losing precision on the way", () => {
    expectInvalidInput(() => parseAmountToMinor("99999999999999999999", "GBP"));
  });

  it("rejects input longer than 32 characters before parsing it", () => {
    const longInput = `${"0".repeat(30)}1.5`;
    expect(longInput.length).toBe(33);
    const error = expectInvalidInput(() => parseAmountToMinor(longInput, "GBP"));
    expect(error.userMessage).toContain("too long");
    // The same digits within the limit are fine, so it is the length that was rejected.
    expect(parseAmountToMinor(longInput.slice(1), "GBP")).toBe(150n);
  });

  it("answers quickly on a pathological input that would make a backtracking regex explode", () => {
    const startedAt = performance.now();
    for (const input of ["1,111,111,111,111,111,11x", `${"1 ".repeat(15)}x`, `${"9".repeat(31)}!`]) {
      expectInvalidInput(() => parseAmountToMinor(input, "GBP"));
    }
    expect(performance.now() - startedAt).toBeLessThan(500);
  });

  describe("grouping separators", () => {
    it.each([
      ["1,234", 123400n],
      ["12,345", 1234500n],
      ["123,456", 12345600n],
      ["1,234,567", 123456700n],
      ["1 234 567", 123456700n],
      ["1\u2009234\u2009567.5", 123456750n],
    ])("accepts the correctly grouped %j", (input, expectedMinor) => {
      expect(parseAmountToMinor(input, "GBP")).toBe(expectedMinor);
    });

    it.each([
      "1,23.00",
      "12,,345",
      "1234,567",
      ",123",
      "123,",
      "1,2345",
      "1,234.",
      "0,123",
      "1,234 567",
      "1 234,567",
      "1  234",
      "1.234,56",
      "1,234.5,6",
      "1.234.567",
    ])("rejects the misplaced or mixed grouping %j", (input) => {
      expectInvalidInput(() => parseAmountToMinor(input, "GBP"));
    });
  });

  describe("garbage input", () => {
    it.each([
      ["empty", ""],
      ["only whitespace", "   "],
      ["a lone decimal point", "."],
      ["a trailing decimal point", "5."],
      ["letters", "abc"],
      ["a currency symbol", "£10"],
      ["a currency code", "10 GBP"],
      ["an exponent", "1e3"],
      ["an upper-case exponent", "1E3"],
      ["a negative exponent", "1e-2"],
      ["Infinity", "Infinity"],
      ["NaN", "NaN"],
      ["hexadecimal", "0x10"],
      ["binary", "0b101"],
      ["a BigInt literal", "10n"],
      ["an underscore separator", "1_000"],
      ["multiple dots", "1.2.3"],
      ["a comma as decimal point", "12,5"],
      ["full-width digits", "１２"],
      ["Arabic-Indic digits", "١٢"],
      ["an embedded newline", "1\n234"],
      ["a zero-width space", "1\u200B234"],
      ["a fraction with letters", "1.5a"],
      ["a fraction with a space", "1. 5"],
      ["a space before the point", "1 .5"],
    ])("rejects %s (%j)", (_description, input) => {
      expectInvalidInput(() => parseAmountToMinor(input, "GBP"));
    });

    it("asks for an amount when the input is empty", () => {
      expect(expectInvalidInput(() => parseAmountToMinor("  ", "GBP")).userMessage).toBe("Please enter an amount.");
    });
  });
});

describe("parsePositiveAmountToMinor", () => {
  it.each(["0", "0.00", ".0", "000"])("rejects the zero amount %j", (input) => {
    const error = expectInvalidInput(() => parsePositiveAmountToMinor(input, "GBP"));
    expect(error.userMessage).toContain("greater than zero");
  });

  it("accepts the smallest positive amount, one minor unit", () => {
    expect(parsePositiveAmountToMinor("0.01", "GBP")).toBe(1n);
    expect(parsePositiveAmountToMinor("1", "JPY")).toBe(1n);
  });

  it("still applies every rule of parseAmountToMinor", () => {
    expectInvalidInput(() => parsePositiveAmountToMinor("-1", "GBP"));
    expectInvalidInput(() => parsePositiveAmountToMinor("1.234", "GBP"));
    expectInvalidInput(() => parsePositiveAmountToMinor("10000000000000.01", "GBP"));
  });
});

describe("minorToDecimalString", () => {
  it.each([
    [123456n, "GBP", "1234.56"],
    [-5n, "GBP", "-0.05"],
    [5n, "GBP", "0.05"],
    [0n, "GBP", "0.00"],
    [100n, "GBP", "1.00"],
    [-123456n, "GBP", "-1234.56"],
    [500n, "JPY", "500"],
    [-500n, "JPY", "-500"],
    [0n, "JPY", "0"],
    [1234n, "BHD", "1.234"],
    [7n, "KWD", "0.007"],
    [-7n, "KWD", "-0.007"],
    [9007199254740993n, "GBP", "90071992547409.93"],
    [123456789012345678901234567890n, "GBP", "1234567890123456789012345678.90"],
  ])("writes %s minor units of %s as %j", (amountMinor, currency, expectedDecimal) => {
    expect(minorToDecimalString(amountMinor, currency)).toBe(expectedDecimal);
  });

  it.each([
    [0n, "GBP"],
    [1n, "GBP"],
    [9n, "GBP"],
    [10n, "GBP"],
    [99n, "GBP"],
    [100n, "GBP"],
    [101n, "GBP"],
    [123456n, "GBP"],
    [123456789012345n, "GBP"],
    [MAX_AMOUNT_MINOR - 1n, "GBP"],
    [MAX_AMOUNT_MINOR, "GBP"],
    [0n, "JPY"],
    [1n, "JPY"],
    [MAX_AMOUNT_MINOR, "JPY"],
    [1n, "BHD"],
    [1001n, "BHD"],
    [MAX_AMOUNT_MINOR, "KWD"],
  ])("round-trips %s minor units of %s through the decimal string and the parser", (amountMinor, currency) => {
    expect(parseAmountToMinor(minorToDecimalString(amountMinor, currency), currency)).toBe(amountMinor);
  });
});

describe("formatMinor", () => {
  it.each([
    [123456n, "GBP", "£1,234.56"],
    [0n, "GBP", "£0.00"],
    [1n, "GBP", "£0.01"],
    [30n, "GBP", "£0.30"],
    [500n, "JPY", "JP¥500"],
    [1234n, "BHD", "BHD\u00A01.234"],
    [100n, "USD", "US$1.00"],
  ])("formats %s minor units of %s as %j in en-GB", (amountMinor, currency, expected) => {
    expect(formatMinor(amountMinor, currency)).toBe(expected);
  });

  it("formats negative amounts with a minus sign, including those under one major unit", () => {
    expect(formatMinor(-5n, "GBP")).toBe("-£0.05");
    expect(formatMinor(-123456n, "GBP")).toBe("-£1,234.56");
    expect(formatMinor(-500n, "JPY")).toBe("-JP¥500");
  });

  it("keeps every digit of 9007199254740993 minor units, which a JS number would round", () => {
    // 2^53 + 1 is the first integer a double cannot represent; converting it to a number would give ...992.
    expect(formatMinor(9007199254740993n, "GBP")).toBe("£90,071,992,547,409.93");
  });

  it("keeps every digit of the maximum amount and of amounts far beyond it", () => {
    expect(formatMinor(MAX_AMOUNT_MINOR, "GBP")).toBe("£10,000,000,000,000.00");
    expect(formatMinor(MAX_AMOUNT_MINOR + 1n, "GBP")).toBe("£10,000,000,000,000.01");
    expect(formatMinor(1234567890123456789n, "GBP")).toBe("£12,345,678,901,234,567.89");
  });

  it("uses the requested locale's separators", () => {
    expect(formatMinor(123456n, "EUR", "de-DE")).toBe("1.234,56\u00A0€");
    expect(formatMinor(123456n, "EUR", "fr-FR")).toBe("1\u202F234,56\u00A0€");
  });

  it("rejects an unknown locale as invalid input", () => {
    expectInvalidInput(() => formatMinor(100n, "GBP", "not a locale!"));
  });

  it("rejects a malformed currency as invalid input", () => {
    expectInvalidInput(() => formatMinor(100n, "gbp"));
  });
});
