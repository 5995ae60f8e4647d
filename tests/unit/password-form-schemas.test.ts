import { zodResolver } from "@hookform/resolvers/zod";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { createPasswordChangeSchema, passwordChangeSchema, samePasswordMessage } from "@/lib/validation/password-change";
import { passwordMismatchMessage, passwordRules } from "@/lib/validation/password-policy";
import { createPasswordResetSchema, invalidResetLinkMessage, passwordResetSchema } from "@/lib/validation/password-reset";
import { ageInYears, parseIsoDate, registrationSchema } from "@/lib/validation/registration";

const goodPassword = "correct horse battery staple!";

const validRegistration = {
  legalName: "Alice Whitfield",
  email: "alice.whitfield@example.com",
  dateOfBirth: "1990-04-12",
  password: goodPassword,
  passwordConfirmation: goodPassword,
  acceptTerms: "on" as const,
};

async function fieldErrorsOf(schema: z.ZodType, input: unknown): Promise<Record<string, string[] | undefined>> {
  const result = await schema.safeParseAsync(input);
  if (result.success) return {};
  return z.flattenError(result.error).fieldErrors as Record<string, string[] | undefined>;
}

function failureMessage(rule: string): string {
  return passwordRules.find((candidate) => candidate.id === rule)?.failure ?? "";
}

/** The ISO date `years` years before today (UTC), moved by `days` days. */
function isoDateYearsAgo(years: number, days: number): string {
  const now = new Date();
  const date = new Date(Date.UTC(now.getUTCFullYear() - years, now.getUTCMonth(), now.getUTCDate() + days));
  return date.toISOString().slice(0, 10);
}

describe("registration", () => {
  it("accepts a complete form and returns cleaned values", async () => {
    const parsed = await registrationSchema.parseAsync({
      ...validRegistration,
      legalName: "  Siobhán O’Brien-Smith Jr. ",
      password: `Cr\u0065\u0301me br\u00fbl\u00e9e 7!`,
      passwordConfirmation: `Cr\u00e9me br\u00fbl\u00e9e 7!`,
    });
    expect(parsed.legalName).toBe("Siobhán O’Brien-Smith Jr.");
    expect(parsed.password).toBe("Cr\u00e9me br\u00fbl\u00e9e 7!");
    expect(parsed.acceptTerms).toBe(true);
  });

  it.each([
    ["a digit", "Alice 2"],
    ["an at sign", "alice@home"],
    ["no letter at all", "'-. "],
    ["nothing", "   "],
    ["201 characters", "A".repeat(201)],
  ])("refuses a legal name with %s", async (_description, legalName) => {
    expect((await fieldErrorsOf(registrationSchema, { ...validRegistration, legalName })).legalName).toHaveLength(1);
  });

  it.each([["李小龍"], ["Zoë Saldaña"], ["Jean-Luc Picard"], ["A".repeat(200)]])("accepts the legal name %s", async (legalName) => {
    expect(await fieldErrorsOf(registrationSchema, { ...validRegistration, legalName })).toEqual({});
  });

  it("refuses an email address that is not one", async () => {
    expect((await fieldErrorsOf(registrationSchema, { ...validRegistration, email: "alice.example.com" })).email).toEqual([
      "Enter a valid email address.",
    ]);
  });

  it("accepts a customer a day past their 18th birthday and up to 120", async () => {
    expect(await fieldErrorsOf(registrationSchema, { ...validRegistration, dateOfBirth: isoDateYearsAgo(18, -1) })).toEqual({});
    expect(await fieldErrorsOf(registrationSchema, { ...validRegistration, dateOfBirth: isoDateYearsAgo(121, 1) })).toEqual({});
  });

  it("refuses a customer a day short of 18, and one past 120", async () => {
    expect((await fieldErrorsOf(registrationSchema, { ...validRegistration, dateOfBirth: isoDateYearsAgo(18, 1) })).dateOfBirth).toEqual([
      "You must be at least 18 to open an account.",
    ]);
    expect((await fieldErrorsOf(registrationSchema, { ...validRegistration, dateOfBirth: isoDateYearsAgo(121, -1) })).dateOfBirth).toEqual([
      "Check the year of your date of birth.",
    ]);
  });

  it.each([["2001-02-29"], ["1990-13-01"], ["1990-04-31"], ["1990-4-12"], ["12/04/1990"], ["0090-04-12"], [""]])(
    "refuses the date of birth %j",
    async (dateOfBirth) => {
      expect((await fieldErrorsOf(registrationSchema, { ...validRegistration, dateOfBirth })).dateOfBirth).toHaveLength(1);
    },
  );

  it("counts birthdays the way people do, 29 February included", () => {
    const leapling = parseIsoDate("2004-02-29");
    expect(leapling).toEqual({ year: 2004, month: 2, day: 29 });
    if (!leapling) return;
    expect(ageInYears(leapling, { year: 2022, month: 2, day: 28 })).toBe(17);
    expect(ageInYears(leapling, { year: 2022, month: 3, day: 1 })).toBe(18);
    expect(ageInYears(leapling, { year: 2024, month: 2, day: 29 })).toBe(20);
    expect(ageInYears({ year: 2000, month: 6, day: 15 }, { year: 2018, month: 6, day: 14 })).toBe(17);
    expect(ageInYears({ year: 2000, month: 6, day: 15 }, { year: 2018, month: 6, day: 15 })).toBe(18);
  });

  it.each([
    ["ticked in a posted form", "on", true],
    ["ticked in the browser form", true, true],
    ["not ticked in a posted form", undefined, false],
    ["not ticked in the browser form", false, false],
    ["any other value", "yes", false],
  ])("takes the terms as accepted only when %s", async (_description, acceptTerms, accepted) => {
    const errors = await fieldErrorsOf(registrationSchema, { ...validRegistration, acceptTerms });
    expect(errors.acceptTerms).toEqual(accepted ? undefined : ["Accept the terms and conditions to open an account."]);
  });

  it("refuses fields it does not know", async () => {
    const result = await registrationSchema.safeParseAsync({ ...validRegistration, role: "admin" });
    expect(result.success).toBe(false);
  });

  it("reports every broken password rule and a mismatch alongside the other fields' errors", async () => {
    const errors = await fieldErrorsOf(registrationSchema, {
      ...validRegistration,
      legalName: "Alice 2",
      password: "password",
      passwordConfirmation: "passw0rd",
    });
    expect(errors.legalName).toHaveLength(1);
    expect(errors.password).toEqual(["length", "special", "common", "strength"].map(failureMessage));
    expect(errors.passwordConfirmation).toEqual([passwordMismatchMessage]);
  });

  it("refuses a password made of the customer's own details typed in the same form", async () => {
    const password = "alice.whitfield@example.com!";
    const errors = await fieldErrorsOf(registrationSchema, { ...validRegistration, password, passwordConfirmation: password });
    expect(errors.password).toEqual([failureMessage("strength")]);
  });
});

describe("password change", () => {
  const change = { currentPassword: "my old password", password: goodPassword, passwordConfirmation: goodPassword };

  it("accepts a new password that meets the policy", async () => {
    expect(await passwordChangeSchema.parseAsync(change)).toEqual(change);
  });

  it("refuses a new password equal to the current one, also when typed with other accents", async () => {
    const current = "Cr\u00e9me br\u00fbl\u00e9e 7!";
    const retyped = "Cr\u0065\u0301me br\u00fbl\u00e9e 7!";
    const errors = await fieldErrorsOf(passwordChangeSchema, { currentPassword: current, password: retyped, passwordConfirmation: retyped });
    expect(errors.password).toEqual([samePasswordMessage]);
  });

  it("needs the current password", async () => {
    expect((await fieldErrorsOf(passwordChangeSchema, { ...change, currentPassword: "" })).currentPassword).toEqual([
      "Enter your current password.",
    ]);
  });

  it("refuses a password built from the details the server passes in", async () => {
    const password = "alice.whitfield@example.com!";
    const input = { ...change, password, passwordConfirmation: password };
    const schema = createPasswordChangeSchema({ legalName: "Alice Whitfield", email: "alice.whitfield@example.com" });
    expect((await fieldErrorsOf(schema, input)).password).toEqual([failureMessage("strength")]);
    expect(await fieldErrorsOf(passwordChangeSchema, input)).toEqual({});
  });
});

describe("password reset", () => {
  const token = "A".repeat(40) + "-_9";

  it("accepts a 43-character base64url token with a good password", async () => {
    expect(await fieldErrorsOf(passwordResetSchema, { token, password: goodPassword, passwordConfirmation: goodPassword })).toEqual({});
  });

  it.each([["too short", token.slice(1)], ["too long", `${token}A`], ["with padding", `${token.slice(1)}=`], ["in base64", `${token.slice(1)}+`]])(
    "refuses a token %s",
    async (_description, badToken) => {
      const errors = await fieldErrorsOf(passwordResetSchema, { token: badToken, password: goodPassword, passwordConfirmation: goodPassword });
      expect(errors.token).toEqual([invalidResetLinkMessage]);
    },
  );

  it("applies the policy with the details the server passes in", async () => {
    const password = "Alice Whitfield!";
    const schema = createPasswordResetSchema({ legalName: "Alice Whitfield" });
    expect((await fieldErrorsOf(schema, { token, password, passwordConfirmation: password })).password).toEqual([failureMessage("strength")]);
    expect(await fieldErrorsOf(passwordResetSchema, { token, password, passwordConfirmation: password })).toEqual({});
  });
});

describe("zodResolver with these schemas (what react-hook-form runs in the browser)", () => {
  const resolverOptions = { fields: {}, shouldUseNativeValidation: false, criteriaMode: "all" as const };

  it("collects every broken password rule under the password field", async () => {
    const resolver = zodResolver(registrationSchema);
    const result = await resolver({ ...validRegistration, password: "password", passwordConfirmation: "password" }, undefined, resolverOptions);
    expect(result.values).toEqual({});
    expect(result.errors.password?.message).toBe(failureMessage("length"));
    expect(result.errors.password?.types?.custom).toEqual(["length", "special", "common", "strength"].map(failureMessage));
    expect(result.errors.passwordConfirmation).toBeUndefined();
  });

  it("hands the parsed values to the submit handler when the form is valid", async () => {
    const resolver = zodResolver(registrationSchema);
    const result = await resolver({ ...validRegistration, acceptTerms: true }, undefined, resolverOptions);
    expect(result.errors).toEqual({});
    expect(result.values).toMatchObject({ legalName: "Alice Whitfield", acceptTerms: true });
  });

  it("reports a mismatched confirmation on its own field", async () => {
    const resolver = zodResolver(passwordResetSchema);
    const result = await resolver(
      { token: "A".repeat(43), password: goodPassword, passwordConfirmation: `${goodPassword}?` },
      undefined,
      resolverOptions,
    );
    expect(result.errors.passwordConfirmation?.message).toBe(passwordMismatchMessage);
    expect(result.errors.password).toBeUndefined();
  });
});
