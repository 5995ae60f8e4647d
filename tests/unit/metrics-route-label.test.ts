import { describe, expect, it } from "vitest";
import { metrics } from "@/lib/metrics/registry";
import { consumeRateLimit } from "@/lib/security/rate-limit";
import {
  createRouteTable,
  normalisePathname,
  routeLabelFor,
  unmatchedRouteLabel,
} from "@/lib/metrics/route-label";
import { parseEnvironment } from "@/lib/env-schema";

// A table shaped like the build's routes-manifest.json: exact pages, then patterns in Next's ranking order.
const table = createRouteTable(
  ["/", "/login", "/accounts", "/transfers/new", "/api/health", "/api/v1/accounts"],
  ["/accounts/[accountId]", "/accounts/[accountId]/statements/[month]", "/api/auth/[...nextauth]", "/docs/[[...slug]]"],
);

describe("routeLabelFor", () => {
  it("labels a page by its own path", () => {
    expect(routeLabelFor("/login", table)).toBe("/login");
    expect(routeLabelFor("/", table)).toBe("/");
  });

  it("labels a path with an id by the route pattern, never by the id", () => {
    expect(routeLabelFor("/accounts/0b7e6c2e-5b1f-4c1e-9f5e-0d2f1c3a4b5c", table)).toBe("/accounts/[accountId]");
    expect(routeLabelFor("/accounts/abc/statements/2026-11", table)).toBe("/accounts/[accountId]/statements/[month]");
  });

  it("drops the query, fragment and trailing slash", () => {
    expect(routeLabelFor("/accounts/abc/?tab=history#top", table)).toBe("/accounts/[accountId]");
    expect(routeLabelFor("/login?callbackUrl=%2Faccounts", table)).toBe("/login");
  });

  it("files the router's data and prefetch requests under the page they belong to", () => {
    expect(routeLabelFor("/accounts/abc.rsc", table)).toBe("/accounts/[accountId]");
    expect(routeLabelFor("/accounts.prefetch.rsc", table)).toBe("/accounts");
    expect(routeLabelFor("/accounts/abc.segments/$d$accountId/__PAGE__.segment.rsc", table)).toBe("/accounts/[accountId]");
    expect(routeLabelFor("/index.rsc", table)).toBe("/");
  });

  it("matches catch-all and optional catch-all patterns", () => {
    expect(routeLabelFor("/api/auth/callback/credentials", table)).toBe("/api/auth/[...nextauth]");
    expect(routeLabelFor("/api/auth", table)).toBe(unmatchedRouteLabel);
    expect(routeLabelFor("/docs", table)).toBe("/docs/[[...slug]]");
    expect(routeLabelFor("/docs/a/b/c", table)).toBe("/docs/[[...slug]]");
  });

  it("gives Next's own files a few fixed labels", () => {
    expect(routeLabelFor("/_next/static/chunks/app-1234abcd.js", table)).toBe("/_next/static");
    expect(routeLabelFor("/_next/image?url=%2Flogo.png&w=64&q=75", table)).toBe("/_next/image");
    expect(routeLabelFor("/_next/webpack-hmr", table)).toBe("/_next/other");
  });

  it("labels anything else 'unmatched', so random paths add no time series", () => {
    const labels = new Set(
      ["/metrics", "/wp-admin.php", "/accounts/a/b", "/%2e%2e/etc/passwd", "*", "http://evil.example/", "", undefined].map(
        (target) => routeLabelFor(target, table),
      ),
    );
    expect([...labels]).toEqual([unmatchedRouteLabel]);
  });

  it("keeps the label set bounded over many distinct ids", () => {
    const labels = new Set(Array.from({ length: 500 }, (_, index) => routeLabelFor(`/accounts/${index}?n=${index}`, table)));
    expect(labels.size).toBe(1);
  });
});

describe("normalisePathname", () => {
  it("keeps the root as it is", () => {
    expect(normalisePathname("/")).toBe("/");
    expect(normalisePathname("///")).toBe("/");
  });
});

describe("metrics configuration", () => {
  const authSecret = "a".repeat(32);

  it("leaves the metrics listener off and on loopback by default", () => {
    expect(parseEnvironment({ AUTH_SECRET: authSecret }).metrics).toEqual({ port: 0, host: "127.0.0.1" });
  });

  it("takes a port and an IP address", () => {
    expect(parseEnvironment({ AUTH_SECRET: authSecret, METRICS_PORT: "9464", METRICS_HOST: "10.0.0.5" }).metrics).toEqual({
      port: 9464,
      host: "10.0.0.5",
    });
  });

  it("refuses a host name, a port out of range, and the public ports", () => {
    expect(() => parseEnvironment({ AUTH_SECRET: authSecret, METRICS_HOST: "metrics.example" })).toThrow(/METRICS_HOST/);
    expect(() => parseEnvironment({ AUTH_SECRET: authSecret, METRICS_PORT: "70000" })).toThrow(/METRICS_PORT/);
    expect(() => parseEnvironment({ AUTH_SECRET: authSecret, METRICS_PORT: "8000" })).toThrow(/METRICS_PORT must differ/);
    expect(() => parseEnvironment({ AUTH_SECRET: authSecret, METRICS_PORT: "8080" })).toThrow(/METRICS_PORT must differ/);
  });
});

describe("rate-limit refusal counter", () => {
  it("counts a refusal under the limiter's name", async () => {
    const settings = parseEnvironment({ AUTH_SECRET: "a".repeat(32), RATE_LIMIT_REGISTRATION_PER_HOUR: "1" });
    const refusals = async () =>
      (await metrics().rateLimitRefusals.get()).values.find(
        (value) => value.labels.limiter === "registration" && value.labels.result === "limited",
      )?.value ?? 0;
    const before = await refusals();
    const client = `ip:metrics-test-${Date.now()}`;
    expect((await consumeRateLimit(settings, "registration", client)).kind).toBe("allowed");
    expect((await consumeRateLimit(settings, "registration", client)).kind).toBe("limited");
    expect(await refusals()).toBe(before + 1);
  });
});
