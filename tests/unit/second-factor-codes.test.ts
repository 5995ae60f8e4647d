import { describe, expect, it } from "vitest";
import {
  generateRecoveryCode,
  hashRecoveryCode,
  normaliseRecoveryCode,
} from "@/lib/auth/recovery-codes";
import { stepUpPayloadHash } from "@/lib/auth/step-up";
import {
  generateTotpSecret,
  isTotpCodeShaped,
  matchTotpCode,
  qrCodeDataUrl,
  totpTimeStepAt,
  totpUri,
} from "@/lib/auth/totp";

// RFC 6238 appendix B: the SHA-1 secret is the ASCII text "12345678901234567890"; its 8-digit codes end in
// the 6-digit codes below.
const rfcSecret = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
const at = (seconds: number) => new Date(seconds * 1000);

describe("TOTP", () => {
  it("makes 160-bit base32 secrets, different every time", () => {
    const secrets = Array.from({ length: 50 }, generateTotpSecret);
    for (const secret of secrets) expect(secret).toMatch(/^[A-Z2-7]{32}$/);
    expect(new Set(secrets).size).toBe(secrets.length);
  });

  it("matches the RFC 6238 test vectors and reports their time steps", async () => {
    await expect(matchTotpCode(rfcSecret, "287082", { now: at(59) })).resolves.toBe(1);
    await expect(matchTotpCode(rfcSecret, "081804", { now: at(1_111_111_109) })).resolves.toBe(37_037_036);
    await expect(matchTotpCode(rfcSecret, "005924", { now: at(1_234_567_890) })).resolves.toBe(41_152_263);
  });

  it("accepts one step either side and refuses two", async () => {
    // 081804 is the code of step 37037036 (1111111080 to 1111111109).
    await expect(matchTotpCode(rfcSecret, "081804", { now: at(1_111_111_080 - 30) })).resolves.toBe(37_037_036);
    await expect(matchTotpCode(rfcSecret, "081804", { now: at(1_111_111_109 + 30) })).resolves.toBe(37_037_036);
    await expect(matchTotpCode(rfcSecret, "081804", { now: at(1_111_111_080 - 31) })).resolves.toBeNull();
    await expect(matchTotpCode(rfcSecret, "081804", { now: at(1_111_111_109 + 31) })).resolves.toBeNull();
  });

  it("refuses a step at or before the last one used, even within the window", async () => {
    const now = at(1_111_111_109);
    await expect(matchTotpCode(rfcSecret, "081804", { now, afterTimeStep: 37_037_035 })).resolves.toBe(37_037_036);
    await expect(matchTotpCode(rfcSecret, "081804", { now, afterTimeStep: 37_037_036 })).resolves.toBeNull();
    // A last step beyond the whole window (a clock that went back) refuses instead of throwing.
    await expect(matchTotpCode(rfcSecret, "081804", { now, afterTimeStep: 37_037_040 })).resolves.toBeNull();
  });

  it.each(["", "12345", "1234567", "12345a", " 123456", "123 456", "١٢٣٤٥٦", "１２３４５６"])(
    "treats %j as malformed",
    async (code) => {
      expect(isTotpCodeShaped(code)).toBe(false);
      await expect(matchTotpCode(rfcSecret, code, { now: at(59) })).resolves.toBeNull();
    },
  );

  it("counts time steps of 30 seconds from the Unix epoch", () => {
    expect(totpTimeStepAt(at(29))).toBe(0);
    expect(totpTimeStepAt(at(30))).toBe(1);
    expect(totpTimeStepAt(at(1_234_567_890))).toBe(41_152_263);
  });

  it("names the bank and the account in the otpauth URI with the standard parameters", () => {
    const uri = new URL(totpUri(rfcSecret, "alice@example.com"));
    expect(uri.protocol).toBe("otpauth:");
    expect(decodeURIComponent(uri.href)).toMatch(/^otpauth:\/\/totp\/Harbour Bank:alice@example\.com\?/);
    expect(uri.searchParams.get("secret")).toBe(rfcSecret);
    expect(uri.searchParams.get("issuer")).toBe("Harbour Bank");
    expect(uri.searchParams.get("digits") ?? "6").toBe("6");
    expect(uri.searchParams.get("period") ?? "30").toBe("30");
  });

  it("renders the QR code as an SVG data URL", async () => {
    const url = await qrCodeDataUrl(totpUri(rfcSecret, "alice@example.com"));
    const prefix = "data:image/svg+xml;base64,";
    expect(url.startsWith(prefix)).toBe(true);
    const svg = Buffer.from(url.slice(prefix.length), "base64").toString("utf8");
    expect(svg).toMatch(/^<svg [^>]*xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    expect(svg).not.toMatch(/<script/i);
  });
});

describe("recovery codes", () => {
  it("come as three groups of five symbols with no look-alikes", () => {
    const codes = Array.from({ length: 200 }, generateRecoveryCode);
    for (const code of codes) expect(code).toMatch(/^[A-HJ-NP-Z2-9]{5}-[A-HJ-NP-Z2-9]{5}-[A-HJ-NP-Z2-9]{5}$/);
    expect(new Set(codes).size).toBe(codes.length);
    // Every symbol of the alphabet turns up: nothing is stuck.
    expect(new Set(codes.join("").replaceAll("-", "")).size).toBe(32);
  });

  it.each([
    ["ABCDE-FGHJK-LMNPQ", "ABCDEFGHJKLMNPQ"],
    ["abcde-fghjk-lmnpq", "ABCDEFGHJKLMNPQ"],
    ["  ABCDE FGHJK LMNPQ ", "ABCDEFGHJKLMNPQ"],
    ["ABCDEFGHJKLMNPQ", "ABCDEFGHJKLMNPQ"],
    ["ABCDE–FGHJK—LMNPQ", "ABCDEFGHJKLMNPQ"],
    ["ＡＢＣＤＥ-ＦＧＨＪＫ-ＬＭＮＰＱ", "ABCDEFGHJKLMNPQ"],
  ])("normalises %j", (input, expected) => {
    expect(normaliseRecoveryCode(input)).toBe(expected);
  });

  it.each(["", "ABCDE-FGHJK", "ABCDE-FGHJK-LMNPQR", "ABCDE-FGHJK-LMNP0", "ABCDE-FGHIK-LMNPQ", "ABCDE_FGHJK_LMNPQ"])(
    "refuses %j",
    (input) => {
      expect(normaliseRecoveryCode(input)).toBeNull();
    },
  );

  it("hashes per user, so one code gives different hashes in two accounts", () => {
    const code = "ABCDEFGHJKLMNPQ";
    const first = hashRecoveryCode("00000000-0000-4000-8000-000000000001", code);
    expect(first).toMatch(/^[0-9a-f]{64}$/);
    expect(hashRecoveryCode("00000000-0000-4000-8000-000000000001", code)).toBe(first);
    expect(hashRecoveryCode("00000000-0000-4000-8000-000000000002", code)).not.toBe(first);
  });
});

describe("stepUpPayloadHash", () => {
  it("ignores the order of the fields", () => {
    expect(stepUpPayloadHash({ action: "transfer", amountMinor: 5n, to: "x" })).toBe(
      stepUpPayloadHash({ to: "x", amountMinor: 5n, action: "transfer" }),
    );
  });

  it("tells values of different types and different values apart", () => {
    const hashes = [
      stepUpPayloadHash({ action: "transfer", amountMinor: 100n }),
      stepUpPayloadHash({ action: "transfer", amountMinor: 100 }),
      stepUpPayloadHash({ action: "transfer", amountMinor: "100" }),
      stepUpPayloadHash({ action: "transfer", amountMinor: 101n }),
      stepUpPayloadHash({ action: "transfer", amountMinor: null }),
      stepUpPayloadHash({ action: "transfer", amountMinor: "null" }),
      stepUpPayloadHash({ action: "payee", amountMinor: 100n }),
    ];
    expect(new Set(hashes).size).toBe(hashes.length);
    for (const hash of hashes) expect(hash).toMatch(/^[0-9a-f]{64}$/);
  });
});
