import { describe, expect, it } from "vitest";
import { describeDeliveryError } from "@/lib/mail/delivery-error";
import { splitIntoLinkSegments } from "@/lib/mail/link-segments";
import { maximumDeliveryAttempts, retryDelaySeconds } from "@/lib/mail/retry-schedule";

describe("retryDelaySeconds", () => {
  it("doubles from 30 seconds and stops growing at an hour", () => {
    expect([1, 2, 3, 4, 5, 6, 7, 8].map(retryDelaySeconds)).toEqual([30, 60, 120, 240, 480, 960, 1920, 3600]);
    expect(retryDelaySeconds(maximumDeliveryAttempts)).toBe(3600);
    expect(retryDelaySeconds(10_000)).toBe(3600);
  });

  it("never answers less than 30 seconds, even for a count below one", () => {
    expect(retryDelaySeconds(0)).toBe(30);
    expect(retryDelaySeconds(-3)).toBe(30);
  });
});

describe("describeDeliveryError", () => {
  it("keeps nodemailer's code, the reply code and the command, never the server's words", () => {
    const refusal = Object.assign(new Error("Can't send mail - all recipients were rejected: 550 <alice@example.com>: no such user"), {
      code: "EENVELOPE",
      responseCode: 550,
      response: "550 <alice@example.com>: no such user",
      command: "RCPT TO",
    });
    const description = describeDeliveryError(refusal);
    expect(description).toBe("EENVELOPE reply 550 during RCPT TO");
    expect(description).not.toContain("alice");
  });

  it("names the operating system's error that nodemailer hides behind ESOCKET", () => {
    const error = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:2525"), {
      code: "ESOCKET",
      errno: -111,
      syscall: "connect",
      command: "CONN",
    });
    expect(describeDeliveryError(error)).toBe("ESOCKET ECONNREFUSED during CONN");
  });

  it("refuses codes and commands that do not look like codes", () => {
    const error = Object.assign(new Error("boom"), { code: "alice@example.com", command: "RCPT TO:<alice@example.com>" });
    expect(describeDeliveryError(error)).toBe("Error");
    expect(describeDeliveryError("a string thrown with alice@example.com")).toBe("unknown error");
    expect(describeDeliveryError(Object.assign(new TypeError("x"), { responseCode: 99_999 }))).toBe("TypeError");
  });
});

describe("splitIntoLinkSegments", () => {
  const origin = "https://bank.example";

  it("makes links to the bank's own origin clickable and keeps the text around them", () => {
    const segments = splitIntoLinkSegments(`Open this:\n\n${origin}/verify-email?token=abc\n\nThanks.`, origin);
    expect(segments).toEqual([
      { kind: "text", text: "Open this:\n\n" },
      { kind: "link", href: `${origin}/verify-email?token=abc` },
      { kind: "text", text: "\n\nThanks." },
    ]);
  });

  it("leaves links to other origins, look-alike hosts, other ports and plain http as text", () => {
    for (const foreign of [
      "https://evil.example/verify-email?token=abc",
      "https://bank.example.evil.test/verify-email",
      "https://bank.example@evil.test/",
      "https://bank.example:8443/verify-email",
      "http://bank.example/verify-email",
    ]) {
      const text = `Click ${foreign} now`;
      expect(splitIntoLinkSegments(text, origin)).toEqual([{ kind: "text", text }]);
    }
  });

  it("does not swallow the full stop that ends a sentence", () => {
    const segments = splitIntoLinkSegments(`Go to ${origin}/login.`, origin);
    expect(segments).toEqual([
      { kind: "text", text: "Go to " },
      { kind: "link", href: `${origin}/login` },
      { kind: "text", text: "." },
    ]);
  });

  it("returns text without links unchanged, and nothing for an empty body", () => {
    expect(splitIntoLinkSegments("No links here.", origin)).toEqual([{ kind: "text", text: "No links here." }]);
    expect(splitIntoLinkSegments("", origin)).toEqual([]);
  });
});
