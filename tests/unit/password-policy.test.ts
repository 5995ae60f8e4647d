import { describe, expect, it, vi } from "vitest";
import frequencyLists from "zxcvbn/lib/frequency_lists";
import { commonPasswordListSize, isCommonPassword } from "@/lib/validation/common-passwords";
import {
  checkPassword,
  maximumPasswordCharacters,
  minimumPasswordCharacters,
  normalisePassword,
  type PasswordRuleId,
  passwordRules,
  passwordUserInputList,
  strengthLabels,
} from "@/lib/validation/password-policy";
import { signInSchema } from "@/lib/validation/sign-in";
import { stubTemporaryKeyring } from "@/tests/helpers/temporary-keyring";

// Hashing reads the configuration, which needs a secret even though nothing here uses it, and a keyring for
// the password pepper.
vi.stubEnv("AUTH_SECRET", "s".repeat(48));
await stubTemporaryKeyring();

async function brokenRules(password: string, userInputs = {}): Promise<PasswordRuleId[]> {
  return (await checkPassword(password, userInputs)).failures.map((failure) => failure.rule);
}

const decomposedE = "e\u0301";
const composedE = "\u00e9";

describe("the rule list", () => {
  it("lists every rule once, each with a requirement and a failure message", () => {
    expect(passwordRules.map((rule) => rule.id)).toEqual(["length", "special", "common", "strength"]);
    for (const rule of passwordRules) {
      expect(rule.requirement.length).toBeGreaterThan(10);
      expect(rule.failure).toMatch(/\.$/);
    }
    expect(strengthLabels).toEqual({ 0: "Very weak", 1: "Weak", 2: "Fair", 3: "Good", 4: "Strong" });
  });

  it("reports failures with the rule's own message, in the rule list's order", async () => {
    const check = await checkPassword("password", {});
    expect(check.failures.map((failure) => failure.rule)).toEqual(["length", "special", "common", "strength"]);
    for (const failure of check.failures) {
      expect(failure.message).toBe(passwordRules.find((rule) => rule.id === failure.rule)?.failure);
    }
  });

  it("accepts a long passphrase with a space and reports its score", async () => {
    const check = await checkPassword("correct horse battery staple!", {});
    expect(check.failures).toEqual([]);
    expect(check.score).toBe(4);
  });
});

describe("length", () => {
  it(`needs at least ${minimumPasswordCharacters} characters`, async () => {
    expect(await brokenRules("Zephyr Quis!")).not.toContain("length");
    expect(await brokenRules("Zephyr Quis")).toContain("length");
  });

  it(`allows at most ${maximumPasswordCharacters} characters`, async () => {
    const words = "Harrow quince lantern 9! ";
    const atMaximum = words.repeat(6).slice(0, maximumPasswordCharacters);
    expect(Array.from(atMaximum)).toHaveLength(128);
    expect(await brokenRules(atMaximum)).not.toContain("length");
    expect(await brokenRules(`${atMaximum}x`)).toContain("length");
  });

  it("counts code points, so twelve emoji are twelve characters", async () => {
    const twelveEmoji = "🐳🦀🐙🦑🐠🐡🦈🐬🐋🦭🐟🐚";
    expect(twelveEmoji.length).toBe(24);
    expect(await brokenRules(twelveEmoji)).not.toContain("length");
    expect(await brokenRules(twelveEmoji.slice(0, 22))).toContain("length");
  });

  it("counts after NFC, so eleven decomposed accents are eleven characters", async () => {
    expect(Array.from(decomposedE.repeat(11))).toHaveLength(22);
    expect(await brokenRules(`${decomposedE.repeat(11)}!`)).not.toContain("length");
    expect(await brokenRules(decomposedE.repeat(11))).toContain("length");
  });
});

describe("special character", () => {
  it.each([
    ["a space", "correct horse battery staple"],
    ["punctuation", "CorrectHorseBatteryStaple!"],
    ["a symbol from another script", "ПарольНадежный№"],
    ["an emoji", "CorrectHorseBattery🐳"],
  ])("counts %s", async (_description, password) => {
    expect(await brokenRules(password)).not.toContain("special");
  });

  it.each([
    ["Latin letters and digits", "CorrectHorseBatteryStaple9"],
    ["accented letters", "ÜnïcödéLéttérsÖnly"],
    ["Cyrillic", "ПарольНадежныйОчень"],
    ["Devanagari with its vowel marks", "मेरापासवर्डबहुतलंबाहै"],
    ["Arabic-Indic digits", "كلمةالمرور١٢٣٤٥٦"],
  ])("does not count %s", async (_description, password) => {
    expect(await brokenRules(password)).toContain("special");
  });
});

describe("common passwords", () => {
  it(`holds exactly the top ${commonPasswordListSize.toLocaleString("en-GB")} of zxcvbn's password list`, () => {
    const ranked = frequencyLists.passwords;
    expect(isCommonPassword(ranked[0] ?? "")).toBe(true);
    expect(isCommonPassword(ranked[commonPasswordListSize - 1] ?? "")).toBe(true);
    expect(isCommonPassword(ranked[commonPasswordListSize] ?? "")).toBe(false);
  });

  it("compares without regard to case", () => {
    expect(isCommonPassword("qwerty123456")).toBe(true);
    expect(isCommonPassword("QWERTY123456")).toBe(true);
    expect(isCommonPassword("LeaveMeAlone")).toBe(true);
    expect(isCommonPassword("leave me alone")).toBe(false);
  });

  it("refuses common passwords of twelve characters or more, whatever their case", async () => {
    // No entry of the top 10,000 has both twelve characters and a special character, so these also break
    // the special-character rule; the common rule is reported for them all the same.
    for (const password of ["qwerty123456", "Sonyericsson", "LEAVEMEALONE", "123456654321"]) {
      expect(Array.from(password).length).toBeGreaterThanOrEqual(12);
      expect(await brokenRules(password)).toContain("common");
    }
  });
});

describe("strength", () => {
  it("refuses a guessable password that meets the other rules", async () => {
    expect(await brokenRules("aaaaaaaaaaaa!")).toEqual(["strength"]);
    const check = await checkPassword("aaaaaaaaaaaa!", {});
    expect(check.score).toBeLessThan(3);
    expect(check.feedback.warning).not.toBe("");
  });

  it("scores a password made of the customer's own email lower once zxcvbn knows it", async () => {
    const password = "alice.whitfield@example.com!";
    const customer = { legalName: "Alice Whitfield", email: "alice.whitfield@example.com", dateOfBirth: "1990-04-12" };
    const stranger = await checkPassword(password, {});
    const owner = await checkPassword(password, customer);
    expect(stranger.failures).toEqual([]);
    expect(owner.score).toBeLessThan(stranger.score);
    expect(owner.failures.map((failure) => failure.rule)).toEqual(["strength"]);
  });

  it("scores a password made of the customer's name and birth year lower once zxcvbn knows them", async () => {
    const password = "AliceWhitfield1990!";
    const stranger = await checkPassword(password, {});
    const owner = await checkPassword(password, { legalName: "Alice Whitfield", dateOfBirth: "1990-04-12" });
    expect(owner.score).toBeLessThan(stranger.score);
  });

  it("passes the name, its parts, the email, its local part and the date of birth in several orders", () => {
    const list = passwordUserInputList({ legalName: "Siobhán O’Brien-Smith", email: "s.obrien@example.ie", dateOfBirth: "1985-11-03" });
    for (const expected of ["Siobhán", "Brien", "Smith", "SiobhánBrienSmith", "s.obrien@example.ie", "s.obrien", "obrien"]) {
      expect(list).toContain(expected);
    }
    for (const expected of ["1985-11-03", "1985", "19851103", "03111985", "11031985", "031185", "110385"]) {
      expect(list).toContain(expected);
    }
    expect(passwordUserInputList({ dateOfBirth: "not a date" })).not.toContain("not a date");
  });

  it("checks a password far beyond the maximum quickly and reports its length", async () => {
    const started = performance.now();
    const broken = await brokenRules("Lantern quince 7! ".repeat(56));
    expect(broken).toContain("length");
    expect(performance.now() - started).toBeLessThan(2_000);
  });
});

describe("NFC normalisation", () => {
  it("composes a decomposed accent and changes nothing else", () => {
    expect(normalisePassword(`caf${decomposedE} au lait `)).toBe(`caf${composedE} au lait `);
    expect(normalisePassword("  spaces stay  ")).toBe("  spaces stay  ");
  });

  it("gives the same result for a decomposed and a composed password", async () => {
    const decomposed = await checkPassword(`Cr${decomposedE}me br${decomposedE}l${decomposedE}e 7!`, {});
    const composed = await checkPassword(`Cr${composedE}me br${composedE}l${composedE}e 7!`, {});
    expect(decomposed).toEqual(composed);
  });

  it("signs in with a decomposed password that was set composed", async () => {
    const { hashPassword, verifyPassword } = await import("@/lib/auth/password");
    const storedHash = await hashPassword(normalisePassword(`Cr${composedE}me br${composedE}l${composedE}e 7!`));
    const typedAtSignIn = signInSchema.parse({ email: "a@example.com", password: `Cr${decomposedE}me br${decomposedE}l${decomposedE}e 7!` });
    expect(typedAtSignIn.password).toBe(`Cr${composedE}me br${composedE}l${composedE}e 7!`);
    expect(await verifyPassword(storedHash, typedAtSignIn.password)).toBe(true);
  });
});
