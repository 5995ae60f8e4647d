import crypto from "node:crypto";
import { afterAll, afterEach, describe, expect, it, vi } from "vitest";
import { parseEnvironment } from "@/lib/env-schema";
import { consumeRateLimit } from "@/lib/security/rate-limit";
import { rateLimitRedisClient } from "@/lib/security/rate-limit/redis-limiter";

// Real Redis on the machine (127.0.0.1:6379); every run uses its own key prefix, so runs never interfere.
const redisUrl = process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379";
const prefix = `bank-test:${crypto.randomBytes(6).toString("hex")}`;

function settings(overrides: Record<string, string> = {}) {
  // The product's real limits: nothing here is lowered for the test.
  return parseEnvironment({
    NODE_ENV: "test",
    AUTH_SECRET: "x".repeat(48),
    REDIS_URL: redisUrl,
    RATE_LIMIT_PREFIX: prefix,
    ...overrides,
  });
}

function uniqueClient(): string {
  return `ip:198.51.100.${crypto.randomInt(1, 255)}-${crypto.randomUUID()}`;
}

afterEach(() => {
  vi.useRealTimers();
});

afterAll(async () => {
  const client = rateLimitRedisClient(redisUrl);
  const keys = await client.keys(`${prefix}:*`);
  if (keys.length > 0) await client.del(...keys);
  client.disconnect();
});

describe("rate limits on real Redis", () => {
  it("allows exactly 10 sign-in attempts per 15 minutes from one client and refuses the 11th", async () => {
    const client = uniqueClient();
    const outcomes = [];
    for (let attempt = 0; attempt < 11; attempt += 1) outcomes.push(await consumeRateLimit(settings(), "signIn", client));
    expect(outcomes.slice(0, 10).every((outcome) => outcome.kind === "allowed")).toBe(true);
    const eleventh = outcomes[10];
    expect(eleventh?.kind).toBe("limited");
    if (eleventh?.kind === "limited") {
      expect(eleventh.decision.limit).toBe(10);
      expect(eleventh.decision.remaining).toBe(0);
      expect(eleventh.decision.resetAtMilliseconds).toBeGreaterThan(Date.now());
    }
    // Another client has its own budget.
    expect((await consumeRateLimit(settings(), "signIn", uniqueClient())).kind).toBe("allowed");
  });

  it("allows 50 API calls in an hour and refuses the 51st", async () => {
    const client = uniqueClient();
    for (let call = 0; call < 50; call += 1) {
      expect((await consumeRateLimit(settings(), "apiHourly", client)).kind).toBe("allowed");
    }
    expect((await consumeRateLimit(settings(), "apiHourly", client)).kind).toBe("limited");
  });

  it("holds the daily API window of 200 across a day, proven with an injected clock", async () => {
    // Only Date is faked: ioredis keeps its real timers. The limiter reads the clock through Date.now().
    vi.useFakeTimers({ toFake: ["Date"] });
    const dayStart = Date.UTC(2030, 0, 10);
    vi.setSystemTime(dayStart + 60_000);
    const client = uniqueClient();
    for (let call = 0; call < 200; call += 1) {
      expect((await consumeRateLimit(settings(), "apiDaily", client)).kind).toBe("allowed");
    }
    expect((await consumeRateLimit(settings(), "apiDaily", client)).kind).toBe("limited");

    // Twenty-three hours later the day's budget is still spent: this is a daily window, not an hourly one.
    vi.setSystemTime(dayStart + 23 * 3_600_000);
    expect((await consumeRateLimit(settings(), "apiDaily", client)).kind).toBe("limited");

    // Two days later the window has slid past every counted call.
    vi.setSystemTime(dayStart + 48 * 3_600_000 + 60_000);
    expect((await consumeRateLimit(settings(), "apiDaily", client)).kind).toBe("allowed");
  });

  it("fails closed for sign-in and open for page views within milliseconds when Redis does not answer", async () => {
    // Nothing listens on this port: the connection is refused at once.
    const unreachable = settings({ REDIS_URL: "redis://127.0.0.1:6399" });
    const started = performance.now();
    const signIn = await consumeRateLimit(unreachable, "signIn", uniqueClient());
    const pageView = await consumeRateLimit(unreachable, "pageViews", uniqueClient());
    const userAction = await consumeRateLimit(unreachable, "userActions", "user:someone");
    expect(signIn.kind).toBe("unavailable");
    expect(userAction.kind).toBe("unavailable");
    expect(pageView).toEqual({ kind: "allowed", decision: null });
    expect(performance.now() - started).toBeLessThan(2_000);
    rateLimitRedisClient("redis://127.0.0.1:6399").disconnect();
  });
});
