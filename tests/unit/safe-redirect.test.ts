import { describe, expect, it } from "vitest";
import {
  maximumRedirectLength,
  safeRedirectPath,
  sameOriginRedirectPath,
  sameOriginRedirectUrl,
} from "@/lib/security/safe-redirect";

describe("safeRedirectPath refuses every way out of the site", () => {
  const attacks: Array<{ name: string; input: unknown }> = [
    { name: "protocol-relative", input: "//evil.example" },
    { name: "protocol-relative with path", input: "//evil.example/login" },
    { name: "slash-backslash", input: "/\\evil.example" },
    { name: "double backslash", input: "\\\\evil" },
    { name: "backslash later in the path", input: "/accounts\\..\\evil" },
    { name: "scheme without slashes", input: "https:evil.example" },
    { name: "absolute URL", input: "https://evil.example" },
    { name: "absolute URL on http", input: "http://evil.example/" },
    { name: "javascript URL", input: "javascript:alert(1)" },
    { name: "data URL", input: "data:text/html,<script>alert(1)</script>" },
    { name: "encoded slashes", input: "/%2F%2Fevil.example" },
    { name: "encoded slash after the first", input: "/%2Fevil.example" },
    { name: "lower-case encoded slash", input: "/%2fevil.example" },
    { name: "encoded backslash", input: "/%5Cevil.example" },
    { name: "double-encoded slash", input: "/%252Fevil.example" },
    { name: "double-encoded backslash", input: "/%255Cevil.example" },
    { name: "encoded slashes without a leading slash", input: "%2F%2Fevil" },
    { name: "encoded tab", input: "/%09/evil.example" },
    { name: "encoded newline", input: "/x%0A" },
    { name: "tab between slashes", input: "/\t/evil.example" },
    { name: "newline between slashes", input: "/\n/evil.example" },
    { name: "leading space", input: " /x" },
    { name: "trailing newline", input: "/x\n" },
    { name: "space inside", input: "/a b" },
    { name: "null byte", input: "/x\u0000" },
    { name: "C1 control", input: "/x\u0085" },
    { name: "bidi override", input: "/x\u202Eevil" },
    { name: "zero-width space", input: "/\u200B/evil.example" },
    { name: "dot segment collapsing to protocol-relative", input: "/.//evil.example" },
    { name: "parent segment collapsing to protocol-relative", input: "/..//evil.example" },
    { name: "encoded dot segment collapsing to protocol-relative", input: "/%2e%2e//evil.example" },
    { name: "relative path", input: "accounts" },
    { name: "dot relative path", input: "./accounts" },
    { name: "malformed percent-encoding", input: "/%E0%A4%A" },
    { name: "empty string", input: "" },
    { name: "longer than the cap", input: `/${"a".repeat(maximumRedirectLength)}` },
    { name: "undefined", input: undefined },
    { name: "null", input: null },
    { name: "number", input: 42 },
    { name: "array", input: ["/accounts"] },
    { name: "object", input: { toString: () => "/accounts" } },
  ];

  it.each(attacks)("refuses $name", ({ input }) => {
    expect(safeRedirectPath(input)).toBe("/");
  });

  it("answers the caller's fallback instead of the default", () => {
    expect(safeRedirectPath("//evil.example", "/login")).toBe("/login");
  });
});

describe("safeRedirectPath keeps paths on the site", () => {
  const paths: Array<{ input: string; expected: string }> = [
    { input: "/", expected: "/" },
    { input: "/accounts", expected: "/accounts" },
    { input: "/accounts/abc?tab=1#x", expected: "/accounts/abc?tab=1#x" },
    { input: "/accounts/./abc", expected: "/accounts/abc" },
    { input: "/caf%C3%A9", expected: "/caf%C3%A9" },
    { input: "/search?q=a+b", expected: "/search?q=a+b" },
    { input: "/javascript:alert(1)", expected: "/javascript:alert(1)" },
  ];

  it.each(paths)("accepts $input", ({ input, expected }) => {
    expect(safeRedirectPath(input)).toBe(expected);
  });

  it("accepts a path exactly at the length cap", () => {
    const path = `/${"a".repeat(maximumRedirectLength - 1)}`;
    expect(safeRedirectPath(path)).toBe(path);
  });
});

describe("sameOriginRedirectPath (callbackUrl on the sign-in page)", () => {
  const origin = "https://bank.example";
  const cases: Array<{ candidate: unknown; expected: string }> = [
    { candidate: "/accounts?tab=1", expected: "/accounts?tab=1" },
    { candidate: "https://bank.example/accounts?tab=1#x", expected: "/accounts?tab=1#x" },
    { candidate: "https://bank.example", expected: "/" },
    { candidate: "HTTPS://BANK.EXAMPLE/accounts", expected: "/accounts" },
    { candidate: "https://evil.example/accounts", expected: "/" },
    { candidate: "https://bank.example@evil.example/", expected: "/" },
    { candidate: "https://bank.example.evil.example/", expected: "/" },
    { candidate: "http://bank.example/accounts", expected: "/" },
    { candidate: "https://bank.example:8443/accounts", expected: "/" },
    { candidate: "https://bank.example//evil.example", expected: "/" },
    { candidate: "https://bank.example/%2F%2Fevil.example", expected: "/" },
    { candidate: "https://bank.example/\t/evil.example", expected: "/" },
    { candidate: " https://bank.example/accounts", expected: "/" },
    { candidate: "https://bank.example\\@evil.example/", expected: "/" },
    { candidate: "//evil.example", expected: "/" },
    { candidate: "javascript:alert(1)", expected: "/" },
    { candidate: "accounts", expected: "/" },
    { candidate: `https://bank.example/${"a".repeat(maximumRedirectLength)}`, expected: "/" },
    { candidate: undefined, expected: "/" },
    { candidate: ["https://bank.example/accounts"], expected: "/" },
  ];

  it.each(cases)("turns $candidate into $expected", ({ candidate, expected }) => {
    expect(sameOriginRedirectPath(candidate, origin)).toBe(expected);
  });
});

describe("sameOriginRedirectUrl (the Auth.js redirect callback)", () => {
  const baseUrl = "https://bank.example";
  const cases: Array<{ url: string; expected: string }> = [
    { url: "/accounts?tab=1", expected: "https://bank.example/accounts?tab=1" },
    { url: "https://bank.example/accounts#x", expected: "https://bank.example/accounts#x" },
    { url: "https://bank.example", expected: "https://bank.example/" },
    { url: "https://evil.example/accounts", expected: "https://bank.example/" },
    { url: "https://bank.example.evil.example/", expected: "https://bank.example/" },
    { url: "http://bank.example/accounts", expected: "https://bank.example/" },
    { url: "https://bank.example:444/accounts", expected: "https://bank.example/" },
    { url: "//evil.example", expected: "https://bank.example/" },
    { url: "/\\evil.example", expected: "https://bank.example/" },
    { url: "https://bank.example//evil.example", expected: "https://bank.example/" },
    { url: "https://bank.example/%2F%2Fevil.example", expected: "https://bank.example/" },
    { url: "javascript:alert(1)", expected: "https://bank.example/" },
    { url: "not a url", expected: "https://bank.example/" },
  ];

  it.each(cases)("turns $url into $expected", ({ url, expected }) => {
    expect(sameOriginRedirectUrl(url, baseUrl)).toBe(expected);
  });
});
