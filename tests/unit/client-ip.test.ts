import type { IncomingHttpHeaders } from "node:http";
import { describe, expect, it } from "vitest";
import { ConfigurationError } from "@/lib/env-schema";
import {
  createTrustedProxyList,
  isTrustedProxy,
  normaliseIpAddress,
  resolveClientIp,
  type ClientIpInput,
} from "@/lib/security/client-ip";
import { isInternalHeaderName, sanitiseIncomingHeaders } from "@/lib/security/internal-headers";

describe("normaliseIpAddress", () => {
  const cases: Array<{ input: string; expected: string }> = [
    { input: "203.0.113.7", expected: "203.0.113.7" },
    { input: "::ffff:203.0.113.7", expected: "203.0.113.7" },
    { input: "::FFFF:203.0.113.7", expected: "203.0.113.7" },
    { input: "::ffff:cb00:7107", expected: "203.0.113.7" },
    { input: "0:0:0:0:0:ffff:203.0.113.7", expected: "203.0.113.7" },
    { input: "2001:0DB8:0000:0000:0000:0000:0000:0001", expected: "2001:db8::1" },
    { input: "2001:DB8::AB", expected: "2001:db8::ab" },
    { input: "[2001:db8::1]", expected: "2001:db8::1" },
    { input: "fe80::1%eth0", expected: "fe80::1" },
    { input: "  198.51.100.1  ", expected: "198.51.100.1" },
    { input: "::1", expected: "::1" },
    { input: "unknown", expected: "" },
    { input: "", expected: "" },
    { input: "203.0.113", expected: "" },
    { input: "203.0.113.256", expected: "" },
    { input: "01.2.3.4", expected: "" },
    { input: "203.0.113.7:443", expected: "" },
    { input: "2001:db8::1::2", expected: "" },
  ];
  it.each(cases)("normalises $input to '$expected'", ({ input, expected }) => {
    expect(normaliseIpAddress(input)).toBe(expected);
  });
});

describe("resolveClientIp", () => {
  const cases: Array<{ name: string; input: ClientIpInput; expected: string }> = [
    {
      name: "uses the socket address when no proxy is trusted, ignoring a spoofed X-Forwarded-For",
      input: { socketAddress: "198.51.100.9", forwardedFor: "1.2.3.4", trustedProxies: [] },
      expected: "198.51.100.9",
    },
    {
      name: "ignores X-Forwarded-For from a peer that is not one of the trusted proxies",
      input: { socketAddress: "198.51.100.9", forwardedFor: "1.2.3.4", trustedProxies: ["10.0.0.1"] },
      expected: "198.51.100.9",
    },
    {
      name: "normalises an IPv4-mapped socket address",
      input: { socketAddress: "::ffff:198.51.100.9", forwardedFor: undefined, trustedProxies: [] },
      expected: "198.51.100.9",
    },
    {
      name: "takes the right-most entry from a trusted peer, not the client-written left-most one",
      input: { socketAddress: "10.0.0.1", forwardedFor: "1.2.3.4, 203.0.113.7", trustedProxies: ["10.0.0.1"] },
      expected: "203.0.113.7",
    },
    {
      name: "trusts a peer whose address arrives IPv4-mapped",
      input: { socketAddress: "::ffff:10.0.0.1", forwardedFor: "203.0.113.7", trustedProxies: ["10.0.0.1"] },
      expected: "203.0.113.7",
    },
    {
      name: "skips a chain of trusted proxies",
      input: {
        socketAddress: "10.0.0.1",
        forwardedFor: "1.2.3.4, 203.0.113.7, 10.0.0.3, 10.0.0.2",
        trustedProxies: ["10.0.0.1", "10.0.0.2", "10.0.0.3"],
      },
      expected: "203.0.113.7",
    },
    {
      name: "trusts proxies by IPv4 CIDR range",
      input: { socketAddress: "10.20.30.40", forwardedFor: "203.0.113.7, 10.1.1.1", trustedProxies: ["10.0.0.0/8"] },
      expected: "203.0.113.7",
    },
    {
      name: "does not trust an address just outside the CIDR range",
      input: { socketAddress: "11.0.0.1", forwardedFor: "203.0.113.7", trustedProxies: ["10.0.0.0/8"] },
      expected: "11.0.0.1",
    },
    {
      name: "trusts proxies by IPv6 CIDR range and compresses the answer",
      input: {
        socketAddress: "fd12:3456::1",
        forwardedFor: "2001:DB8:0:0:0:0:0:AB, fd00::5",
        trustedProxies: ["fd00::/8"],
      },
      expected: "2001:db8::ab",
    },
    {
      name: "joins several X-Forwarded-For headers with commas",
      input: { socketAddress: "10.0.0.1", forwardedFor: ["1.2.3.4", "203.0.113.7"], trustedProxies: ["10.0.0.0/8"] },
      expected: "203.0.113.7",
    },
    {
      name: "ignores empty list elements",
      input: { socketAddress: "10.0.0.1", forwardedFor: "203.0.113.7, ,", trustedProxies: ["10.0.0.0/8"] },
      expected: "203.0.113.7",
    },
    {
      name: "never returns a garbage entry and does not believe what lies left of it",
      input: { socketAddress: "10.0.0.1", forwardedFor: "1.2.3.4, unknown", trustedProxies: ["10.0.0.0/8"] },
      expected: "10.0.0.1",
    },
    {
      name: "falls back to the peer when every entry is a trusted proxy",
      input: { socketAddress: "10.0.0.1", forwardedFor: "10.0.0.2, 10.0.0.3", trustedProxies: ["10.0.0.0/8"] },
      expected: "10.0.0.1",
    },
    {
      name: "falls back to the peer when a trusted peer sends no X-Forwarded-For",
      input: { socketAddress: "10.0.0.1", forwardedFor: undefined, trustedProxies: ["10.0.0.0/8"] },
      expected: "10.0.0.1",
    },
    {
      name: "falls back to the peer when X-Forwarded-For is entirely garbage",
      input: { socketAddress: "10.0.0.1", forwardedFor: "<script>, ;;", trustedProxies: ["10.0.0.0/8"] },
      expected: "10.0.0.1",
    },
    {
      name: "returns an empty string when the socket has no address",
      input: { socketAddress: undefined, forwardedFor: "203.0.113.7", trustedProxies: ["10.0.0.0/8"] },
      expected: "",
    },
  ];
  it.each(cases)("$name", ({ input, expected }) => {
    expect(resolveClientIp(input)).toBe(expected);
  });
});

describe("trusted proxy list", () => {
  it("rejects entries that are not addresses or ranges, naming each one", () => {
    const attempt = () => createTrustedProxyList(["10.0.0.0/8", "proxy.internal", "10.0.0.0/33", "fd00::/129"]);
    expect(attempt).toThrow(ConfigurationError);
    expect(attempt).toThrow(/proxy\.internal[\s\S]*10\.0\.0\.0\/33[\s\S]*fd00::\/129/);
  });

  it("accepts an IPv4-mapped IPv6 range as the equivalent IPv4 range", () => {
    expect(isTrustedProxy("10.9.8.7", ["::ffff:10.0.0.0/104"])).toBe(true);
    expect(isTrustedProxy("11.0.0.1", ["::ffff:10.0.0.0/104"])).toBe(false);
  });

  it("never trusts a value that is not an address", () => {
    expect(isTrustedProxy("unknown", ["0.0.0.0/0"])).toBe(false);
    expect(isTrustedProxy(undefined, ["0.0.0.0/0"])).toBe(false);
  });
});

describe("sanitiseIncomingHeaders", () => {
  it("removes every header that is internal to Next.js or the custom server", () => {
    const headers: IncomingHttpHeaders = {
      "x-middleware-subrequest": "middleware:middleware:middleware:middleware:middleware",
      "x-middleware-prefetch": "1",
      "x-invoke-path": "/admin",
      "x-invoke-status": "200",
      "x-nextjs-data": "1",
      "x-next-debug-logging": "1",
      "x-matched-path": "/admin",
      "x-now-route-matches": "1",
      "x-nonce": "attacker-chosen",
      "x-client-ip": "1.2.3.4",
    };
    sanitiseIncomingHeaders(headers);
    expect(headers).toEqual({});
  });

  it("keeps the legitimate App Router and ordinary headers", () => {
    const kept: IncomingHttpHeaders = {
      host: "localhost:8000",
      cookie: "session=abc",
      rsc: "1",
      "next-action": "0123abcd",
      "next-router-state-tree": "%5B%22%22%5D",
      "next-router-prefetch": "1",
      "next-url": "/accounts",
      "x-forwarded-for": "203.0.113.7",
      "x-requested-with": "fetch",
    };
    const headers: IncomingHttpHeaders = { ...kept, "x-middleware-subrequest": "middleware" };
    sanitiseIncomingHeaders(headers);
    expect(headers).toEqual(kept);
  });

  it("matches header names regardless of case", () => {
    expect(isInternalHeaderName("X-Middleware-Subrequest")).toBe(true);
    expect(isInternalHeaderName("X-Client-IP")).toBe(true);
    expect(isInternalHeaderName("Next-Action")).toBe(false);
    expect(isInternalHeaderName("x-nextauth-thing")).toBe(false);
  });
});
