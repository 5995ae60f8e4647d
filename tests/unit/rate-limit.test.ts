import crypto from "node:crypto";
import { afterEach, describe, expect, it, vi } from "vitest";
import { parseEnvironment } from "@/lib/env-schema";
import { clientKeyForIp, consumeRateLimit, rateLimitDefinitions, rateLimitHeaders } from "@/lib/security/rate-limit";

afterEach(() => {
  vi.useRealTimers();
});

describe("client keys", () => {
  it.each([
    ["203.0.113.7", "ip:203.0.113.7"],
    ["::ffff:203.0.113.7", "ip:203.0.113.7"],
    ["2001:db8:1:2:3:4:5:6", "ip6:2001:0db8:0001:0002::/64"],
    ["2001:db8:1:2::9", "ip6:2001:0db8:0001:0002::/64"],
    ["2001:DB8:1:2:ffff::1", "ip6:2001:0db8:0001:0002::/64"],
    ["2001:db8:1:3::1", "ip6:2001:0db8:0001:0003::/64"],
    ["::1", "ip6:0000:0000:0000:0000::/64"],
    ["", "ip:unknown"],
    ["not an address", "ip:unknown"],
  ])("keys %s as %s", (address, expected) => {
    expect(clientKeyForIp(address)).toBe(expected);
  });
});

describe("configured limits", () => {
  it("uses the product's limits by default", () => {
    const definitions = rateLimitDefinitions(parseEnvironment({ AUTH_SECRET: "x".repeat(48) }));
    expect(definitions.apiHourly).toEqual({ limit: 50, windowSeconds: 3_600, whenUnavailable: "closed" });
    expect(definitions.apiDaily).toEqual({ limit: 200, windowSeconds: 86_400, whenUnavailable: "closed" });
    expect(definitions.signIn).toEqual({ limit: 10, windowSeconds: 900, whenUnavailable: "closed" });
    expect(definitions.registration.limit).toBe(5);
    expect(definitions.userActions.limit).toBe(120);
    expect(definitions.pageViews).toMatchObject({ limit: 600, whenUnavailable: "open" });
    expect(definitions.historyExports).toEqual({ limit: 30, windowSeconds: 3_600, whenUnavailable: "closed" });
    expect(definitions.payeeLookups).toEqual({ limit: 20, windowSeconds: 86_400, whenUnavailable: "closed" });
  });

  it("takes each limit from the environment", () => {
    const definitions = rateLimitDefinitions(
      parseEnvironment({ AUTH_SECRET: "x".repeat(48), RATE_LIMIT_SIGN_IN_PER_15_MINUTES: "3", RATE_LIMIT_API_PER_DAY: "9" }),
    );
    expect(definitions.signIn.limit).toBe(3);
    expect(definitions.apiDaily.limit).toBe(9);
  });

  it("refuses a limit below one", () => {
    expect(() => parseEnvironment({ AUTH_SECRET: "x".repeat(48), RATE_LIMIT_API_PER_HOUR: "0" })).toThrow(/RATE_LIMIT_API_PER_HOUR/);
  });
});

describe("the in-memory limiter (no REDIS_URL)", () => {
  it("allows the configured number in the window, refuses the next, and slides", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(Date.UTC(2030, 0, 1));
    const settings = parseEnvironment({ AUTH_SECRET: "x".repeat(48), RATE_LIMIT_REGISTRATION_PER_HOUR: "5", RATE_LIMIT_PREFIX: `unit-${Date.now()}` });
    const client = `ip:192.0.2.${crypto.randomInt(1, 200)}-${crypto.randomUUID()}`;
    for (let attempt = 0; attempt < 5; attempt += 1) {
      expect((await consumeRateLimit(settings, "registration", client)).kind).toBe("allowed");
    }
    const refused = await consumeRateLimit(settings, "registration", client);
    expect(refused.kind).toBe("limited");
    vi.setSystemTime(Date.UTC(2030, 0, 1) + 3_600_001);
    expect((await consumeRateLimit(settings, "registration", client)).kind).toBe("allowed");
  });
});

describe("rate-limit headers", () => {
  it("carries limit, remaining, reset and Retry-After when limited", () => {
    const now = 1_000_000;
    expect(rateLimitHeaders({ allowed: false, limit: 50, remaining: 0, resetAtMilliseconds: now + 30_500 }, now)).toEqual({
      "RateLimit-Limit": "50",
      "RateLimit-Remaining": "0",
      "RateLimit-Reset": "31",
      "Retry-After": "31",
    });
    expect(rateLimitHeaders({ allowed: true, limit: 50, remaining: 7, resetAtMilliseconds: now + 1_000 }, now)).not.toHaveProperty("Retry-After");
  });
});
