import { stripVTControlCharacters } from "node:util";
import { expect } from "@playwright/test";
import type { RawResponse } from "./raw-http";

/** What an error answer must never reveal: how the server is built, where it runs, or what it was doing. */
const forbiddenInBody: { what: string; pattern: RegExp }[] = [
  { what: "a stack frame", pattern: /^\s*at\s+\S.*$/m },
  { what: "a stack frame", pattern: /\bat\s+[\w$.<>]+\s+\([^)]*:\d+:\d+\)/ },
  { what: "an error class and message", pattern: /\b(?:Type|Reference|Syntax|Range)?Error:\s/ },
  { what: "SQL", pattern: /\b(?:select\s+[\w*",.\s]+\s+from|insert\s+into|update\s+"?\w+"?\s+set|delete\s+from)\b/i },
  { what: "a database error", pattern: /SQLSTATE|syntax error at or near|relation "[^"]+" does not exist|duplicate key value|violates \w+ constraint/i },
  { what: "Next.js", pattern: /next\.?js/i },
  { what: "Auth.js", pattern: /next-auth|@auth\/core|authjs\.dev/i },
  { what: "Drizzle", pattern: /drizzle/i },
  { what: "PostgreSQL", pattern: /postgres/i },
  { what: "PGlite", pattern: /pglite/i },
  { what: "ioredis", pattern: /ioredis|ECONNREFUSED/i },
  { what: "a version number", pattern: /\bv?\d+\.\d+\.\d+\b/ },
  {
    what: "a file path",
    pattern: /(?:^|[\s"'(=])\/(?:home|root|tmp|work|usr|var|srv|opt)\/|node_modules|file:\/\/|webpack:\/\/|\.tsx?:\d+|\.m?js:\d+:\d+/,
  },
];

/** Headers whose values are dates or random tokens, in which a "version number" would only be noise. */
const headersNotScannedForVersions = new Set(["date", "set-cookie", "content-security-policy", "etag", "link"]);

export function expectCleanAnswer(response: RawResponse, label: string): void {
  for (const { what, pattern } of forbiddenInBody) {
    const match = pattern.exec(response.body);
    expect(match?.[0], `${label}: the body shows ${what}`).toBeUndefined();
  }
  for (const [name, rawValue] of Object.entries(response.headers)) {
    // Header names of Next's client protocol (`x-nextjs-…`, `next-router-…` in Vary) are what its client code
    // reads, and every page names /_next/ anyway; what must not exist is a header announcing the server.
    expect(name, `${label}: a ${name} header`).not.toMatch(/^(?:server|x-powered-by|x-aspnet-version|x-runtime)$/i);
    for (const value of Array.isArray(rawValue) ? rawValue : [rawValue ?? ""]) {
      for (const { what, pattern } of forbiddenInBody) {
        if (what === "a version number" && headersNotScannedForVersions.has(name)) continue;
        if (what === "a stack frame" || what === "SQL") continue;
        const match = pattern.exec(value);
        expect(match?.[0], `${label}: header ${name} shows ${what}`).toBeUndefined();
      }
    }
  }
}

/** An error status (4xx or 5xx) with a clean body and clean headers. */
export function expectCleanRefusal(response: RawResponse, label: string): void {
  expect(response.status, `${label}: answered ${response.status}`).toBeGreaterThanOrEqual(400);
  expect(response.status, `${label}: answered ${response.status}`).toBeLessThan(600);
  expectCleanAnswer(response, label);
}

/** Runs every check and fails once, listing all the answers that broke a rule (not only the first). */
export function expectAll(checks: [label: string, check: () => void][]): void {
  const failures: string[] = [];
  for (const [label, check] of checks) {
    try {
      check();
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      const lines = message.split("\n").filter((line) => line.trim() !== "");
      failures.push(stripVTControlCharacters(lines.slice(0, 4).join(" | ")) || label);
    }
  }
  expect(failures, "answers that broke a rule").toEqual([]);
}
