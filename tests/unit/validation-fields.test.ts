import { describe, expect, it } from "vitest";
import { z } from "zod";
import { emailAddress, password, strictObject, text } from "@/lib/validation/fields";
import { signInSchema } from "@/lib/validation/sign-in";

function messagesOf(result: { success: boolean; error?: z.ZodError }): string[] {
  return result.error?.issues.map((issue) => issue.message) ?? [];
}

describe("text", () => {
  const field = text({ min: 1, max: 10 });

  const cleaned: Array<{ name: string; input: string; expected: string }> = [
    { name: "composes a decomposed accent (NFC)", input: "e\u0301", expected: "\u00e9" },
    { name: "keeps an already composed accent", input: "\u00e9", expected: "\u00e9" },
    { name: "composes across a removed control character", input: "e\u0000\u0301", expected: "\u00e9" },
    { name: "removes NUL", input: "a\u0000b", expected: "ab" },
    { name: "removes tab, newline and carriage return inside", input: "a\tb\nc\rd", expected: "abcd" },
    { name: "removes DEL", input: "a\u007Fb", expected: "ab" },
    { name: "removes C1 controls", input: "a\u0080b\u0085c\u009Fd", expected: "abcd" },
    { name: "removes bidi embeddings and overrides", input: "a\u202Ab\u202Bc\u202Cd\u202De\u202Ef", expected: "abcdef" },
    { name: "removes bidi isolates", input: "a\u2066b\u2067c\u2068d\u2069e", expected: "abcde" },
    { name: "trims spaces", input: "  ab  ", expected: "ab" },
    { name: "trims Unicode spaces", input: "\u00A0ab\u3000", expected: "ab" },
    { name: "trims whitespace revealed by stripping", input: "\u0000 ab \u202E", expected: "ab" },
    { name: "keeps inner spaces", input: "a b", expected: "a b" },
  ];

  it.each(cleaned)("$name", ({ input, expected }) => {
    expect(field.parse(input)).toBe(expected);
  });

  it("checks the lower bound on the cleaned value", () => {
    expect(field.safeParse("   ").success).toBe(false);
    expect(field.safeParse("\u0000\u202E").success).toBe(false);
    expect(field.safeParse("").success).toBe(false);
    expect(text({ min: 3, max: 10 }).safeParse(" ab ").success).toBe(false);
    expect(text({ min: 3, max: 10 }).parse(" abc ")).toBe("abc");
  });

  it("checks the upper bound on the cleaned value", () => {
    expect(field.parse("a".repeat(10))).toBe("a".repeat(10));
    expect(field.safeParse("a".repeat(11)).success).toBe(false);
    // Ten decomposed letters are twenty code units typed, ten once composed.
    expect(field.parse("e\u0301".repeat(10))).toBe("\u00e9".repeat(10));
    expect(field.parse(`  ${"a".repeat(10)}  `)).toBe("a".repeat(10));
  });

  it("refuses absurdly long input before normalising it", () => {
    expect(field.safeParse(" ".repeat(100_000)).success).toBe(false);
  });

  it("allows an empty value when there is no minimum", () => {
    expect(text({ max: 5 }).parse("  ")).toBe("");
  });

  it("refuses anything that is not a string", () => {
    for (const input of [undefined, null, 1, ["a"], { a: 1 }]) expect(field.safeParse(input).success).toBe(false);
  });

  it("uses the caller's messages", () => {
    const custom = text({ min: 1, max: 3, tooShort: "Too short.", tooLong: "Too long." });
    expect(messagesOf(custom.safeParse(" "))).toEqual(["Too short."]);
    expect(messagesOf(custom.safeParse(undefined))).toEqual(["Too short."]);
    expect(messagesOf(custom.safeParse("abcd"))).toEqual(["Too long."]);
  });
});

describe("emailAddress", () => {
  const field = emailAddress();

  it("accepts a plain address and keeps its case", () => {
    expect(field.parse("Alice@Example.com")).toBe("Alice@Example.com");
  });

  it("checks the format after cleaning", () => {
    expect(field.parse("  alice@example.com\u0000 ")).toBe("alice@example.com");
    expect(field.parse("ali\u202Ece@example.com")).toBe("alice@example.com");
  });

  it("refuses what is not an address", () => {
    for (const input of ["alice", "alice@", "@example.com", "alice@@example.com", "alice example@example.com"]) {
      expect(field.safeParse(input).success).toBe(false);
    }
  });

  it("is bounded to 254 characters", () => {
    const domain = `${"a".repeat(63)}.${"b".repeat(63)}.${"c".repeat(63)}.example`;
    const longest = `${"x".repeat(254 - domain.length - 1)}@${domain}`;
    expect(longest).toHaveLength(254);
    expect(messagesOf(field.safeParse(`x${longest}`))).toEqual(["That email address is too long."]);
  });

  it("asks for an address when there is none", () => {
    expect(messagesOf(field.safeParse("  "))).toEqual(["Enter your email address."]);
  });
});

describe("password", () => {
  const field = password();

  it("is never trimmed", () => {
    expect(field.parse(" pw ")).toBe(" pw ");
    expect(field.parse("\tpw\n")).toBe("\tpw\n");
  });

  it("keeps characters that text() would remove", () => {
    expect(field.parse("a\u0000b\u202Ec")).toBe("a\u0000b\u202Ec");
  });

  it("is NFC-normalised", () => {
    expect(field.parse("caf\u0065\u0301")).toBe("caf\u00e9");
  });

  it("needs at least one character and at most 1024", () => {
    expect(messagesOf(field.safeParse(""))).toEqual(["Enter your password."]);
    expect(field.parse(" ")).toBe(" ");
    expect(field.parse("p".repeat(1024))).toHaveLength(1024);
    expect(messagesOf(field.safeParse("p".repeat(1025)))).toEqual(["That password is too long."]);
  });

  it("refuses anything that is not a string", () => {
    expect(field.safeParse(undefined).success).toBe(false);
    expect(field.safeParse(12345678).success).toBe(false);
  });
});

describe("strictObject", () => {
  const schema = strictObject({ name: text({ max: 10 }) });

  it("accepts exactly the declared fields", () => {
    expect(schema.parse({ name: " Ada " })).toEqual({ name: "Ada" });
  });

  it("refuses unknown fields", () => {
    const result = schema.safeParse({ name: "Ada", role: "admin" });
    expect(result.success).toBe(false);
    expect(result.error?.issues[0]?.code).toBe("unrecognized_keys");
    expect(messagesOf(result)).toEqual(["The form contains fields we do not accept."]);
  });
});

describe("signInSchema", () => {
  it("cleans the email, keeps the password exactly and checks the redirect target", () => {
    expect(
      signInSchema.parse({ email: " alice@example.com\u202E ", password: " secret ", redirectTo: "/accounts?tab=1" }),
    ).toEqual({ email: "alice@example.com", password: " secret ", redirectTo: "/accounts?tab=1" });
  });

  it("turns a missing or foreign redirect target into the dashboard instead of failing", () => {
    expect(signInSchema.parse({ email: "a@b.c", password: "p" }).redirectTo).toBe("/");
    expect(signInSchema.parse({ email: "a@b.c", password: "p", redirectTo: "//evil.example" }).redirectTo).toBe("/");
  });

  it("keeps its messages", () => {
    const result = signInSchema.safeParse({ email: " ", password: "" });
    expect(result.success).toBe(false);
    expect(z.flattenError(result.error as z.ZodError).fieldErrors).toEqual({
      email: ["Enter your email address."],
      password: ["Enter your password."],
    });
    const tooLong = signInSchema.safeParse({ email: "a".repeat(255), password: "p".repeat(1025) });
    expect(z.flattenError(tooLong.error as z.ZodError).fieldErrors).toEqual({
      email: ["That email address is too long."],
      password: ["That password is too long."],
    });
  });

  it("refuses unknown fields", () => {
    expect(signInSchema.safeParse({ email: "a@b.c", password: "p", role: "admin" }).success).toBe(false);
  });
});
