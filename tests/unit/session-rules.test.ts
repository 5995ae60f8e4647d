import { describe, expect, it } from "vitest";
import { parseSessionChannelMessage, signInPathFor } from "@/app/components/session-channel";
import { describeUserAgent } from "@/lib/auth/describe-user-agent";
import { checkSessionRecord, type SessionRecord } from "@/lib/auth/sessions";
import { formatDuration } from "@/lib/format-duration";

const limits = { idleTimeoutSeconds: 900, absoluteLifetimeSeconds: 43_200 };
const signedInAt = new Date("2026-03-02T09:00:00.000Z");

function record(overrides: Partial<SessionRecord> = {}): SessionRecord {
  return {
    sessionId: "0b7f8f1e-3c1a-4d7e-9a55-5d2b0c6e7f10",
    userId: "9d3c2b1a-7e6f-4a5b-8c9d-0e1f2a3b4c5d",
    role: "customer",
    createdAt: signedInAt,
    lastSeenAt: signedInAt,
    revokedAt: null,
    showLockNotice: false,
    lockedUntil: null,
    emailVerifiedAt: new Date("2026-01-01T00:00:00.000Z"),
    totpEnrolled: true,
    ...overrides,
  };
}

function secondsAfter(moment: Date, seconds: number): Date {
  return new Date(moment.getTime() + seconds * 1000);
}

describe("checkSessionRecord", () => {
  it("accepts a fresh session and names both deadlines", () => {
    const verdict = checkSessionRecord(record(), secondsAfter(signedInAt, 1), limits);
    expect(verdict).toEqual({
      accepted: true,
      idleExpiresAt: secondsAfter(signedInAt, 900),
      absoluteExpiresAt: secondsAfter(signedInAt, 43_200),
    });
  });

  it("refuses at the idle deadline exactly, and accepts a millisecond before it", () => {
    const lastSeenAt = secondsAfter(signedInAt, 600);
    const deadline = secondsAfter(lastSeenAt, 900);
    expect(checkSessionRecord(record({ lastSeenAt }), new Date(deadline.getTime() - 1), limits).accepted).toBe(true);
    expect(checkSessionRecord(record({ lastSeenAt }), deadline, limits)).toEqual({ accepted: false, refusal: "idle" });
  });

  it("refuses at the absolute deadline however recent the activity", () => {
    const now = secondsAfter(signedInAt, 43_200);
    const lastSeenAt = secondsAfter(now, -1);
    expect(checkSessionRecord(record({ lastSeenAt }), now, limits)).toEqual({ accepted: false, refusal: "expired" });
  });

  it.each<{ name: string; overrides: Partial<SessionRecord>; refusal: string }>([
    { name: "a revoked session", overrides: { revokedAt: signedInAt }, refusal: "revoked" },
    { name: "a locked user", overrides: { lockedUntil: secondsAfter(signedInAt, 3600) }, refusal: "locked" },
    { name: "a user with an unverified email", overrides: { emailVerifiedAt: null }, refusal: "unverified" },
  ])("refuses $name", ({ overrides, refusal }) => {
    expect(checkSessionRecord(record(overrides), secondsAfter(signedInAt, 5), limits)).toEqual({ accepted: false, refusal });
  });

  it("accepts a user whose lock has run out", () => {
    const verdict = checkSessionRecord(record({ lockedUntil: secondsAfter(signedInAt, 2) }), secondsAfter(signedInAt, 5), limits);
    expect(verdict.accepted).toBe(true);
  });

  it("gives staff sessions their own, shorter idle limit", () => {
    const staffLimits = { ...limits, staffIdleTimeoutSeconds: 600 };
    const lastSeenAt = secondsAfter(signedInAt, 60);
    const staffDeadline = secondsAfter(lastSeenAt, 600);
    const support = record({ role: "support", lastSeenAt });
    expect(checkSessionRecord(support, new Date(staffDeadline.getTime() - 1), staffLimits)).toMatchObject({
      accepted: true,
      idleExpiresAt: staffDeadline,
    });
    expect(checkSessionRecord(support, staffDeadline, staffLimits)).toEqual({ accepted: false, refusal: "idle" });
    // A customer's session keeps the customer limit.
    expect(checkSessionRecord(record({ lastSeenAt }), staffDeadline, staffLimits).accepted).toBe(true);
  });

  it.each(["admin", "support", "auditor"] as const)("refuses a %s session without an enrolled authenticator", (role) => {
    expect(checkSessionRecord(record({ role, totpEnrolled: false }), secondsAfter(signedInAt, 5), limits)).toEqual({
      accepted: false,
      refusal: "no_second_factor",
    });
  });

  it("refuses a missing record", () => {
    expect(checkSessionRecord(null, signedInAt, limits)).toEqual({ accepted: false, refusal: "missing" });
  });
});

describe("formatDuration", () => {
  it.each([
    [900, "15 minutes"],
    [60, "1 minute"],
    [20, "20 seconds"],
    [1, "1 second"],
    [90, "1 minute and 30 seconds"],
    [43_200, "12 hours"],
    [3_661, "1 hour, 1 minute and 1 second"],
  ])("says %i seconds as %s", (seconds, expected) => {
    expect(formatDuration(seconds)).toBe(expected);
  });
});

describe("describeUserAgent", () => {
  it.each([
    [
      "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/139.0.0.0 Safari/537.36",
      "Chrome on Linux",
    ],
    [
      "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/139.0.0.0 Safari/537.36 Edg/139.0.0.0",
      "Edge on Windows",
    ],
    ["Mozilla/5.0 (Macintosh; Intel Mac OS X 14.5; rv:128.0) Gecko/20100101 Firefox/128.0", "Firefox on macOS"],
    [
      "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
      "Safari on iOS",
    ],
    ["curl/8.5.0", "Unknown browser"],
  ])("names %s as %s", (userAgent, expected) => {
    expect(describeUserAgent(userAgent)).toBe(expected);
  });

  it("names a missing user agent", () => {
    expect(describeUserAgent(null)).toBe("Unknown browser");
  });
});

describe("the tabs' session channel", () => {
  it("accepts the two message kinds it sends", () => {
    expect(parseSessionChannelMessage({ type: "signed-out", reason: "timeout" })).toEqual({ type: "signed-out", reason: "timeout" });
    expect(
      parseSessionChannelMessage({ type: "deadlines", idleExpiresAtMilliseconds: 1, absoluteExpiresAtMilliseconds: 2, extra: "x" }),
    ).toEqual({ type: "deadlines", idleExpiresAtMilliseconds: 1, absoluteExpiresAtMilliseconds: 2 });
  });

  it.each([null, "signed-out", { type: "signed-out", reason: "https://evil.example" }, { type: "deadlines", idleExpiresAtMilliseconds: "soon" }])(
    "ignores %j",
    (data) => {
      expect(parseSessionChannelMessage(data)).toBeNull();
    },
  );

  it("sends a timed-out tab to the sign-in page with the reason, and a signed-out one without", () => {
    expect(signInPathFor("timeout")).toBe("/login?reason=timeout");
    expect(signInPathFor("expired")).toBe("/login?reason=expired");
    expect(signInPathFor("signed-out")).toBe("/login");
  });
});
