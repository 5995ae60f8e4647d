import { ESLint } from "eslint";
import { describe, it, expect } from "vitest";

// Proves that the project rules in eslint.config.mjs fire on application code: each banned construct is linted
// as if it were a file under lib/ and must produce an error from the rule that bans it. The same snippets under
// tests/ must not trip those rules, since test tools may start processes.

const eslint = new ESLint({ cwd: process.cwd() });

interface Finding {
  ruleId: string | null;
  severity: number;
  message: string;
}

async function lint(code: string, filePath = "lib/example.ts"): Promise<Finding[]> {
  const [result] = await eslint.lintText(code, { filePath });
  if (!result) {
    throw new Error(`ESLint returned no result for ${filePath}`);
  }
  return result.messages.map(({ ruleId, severity, message }) => ({ ruleId, severity, message }));
}

function errorsFrom(findings: Finding[], ruleId: string): Finding[] {
  return findings.filter((finding) => finding.ruleId === ruleId && finding.severity === 2);
}

const banned: { name: string; code: string; ruleId: string; messageIncludes?: string }[] = [
  {
    name: "sql.raw(...)",
    code: 'import { sql } from "drizzle-orm";\nexport const query = sql.raw("select 1");\n',
    ruleId: "no-restricted-syntax",
    messageIncludes: "sql`` template",
  },
  {
    name: 'sql["raw"](...)',
    code: 'import { sql } from "drizzle-orm";\nexport const query = sql["raw"]("select 1");\n',
    ruleId: "no-restricted-syntax",
    messageIncludes: "sql`` template",
  },
  {
    name: "a reference to sql.raw",
    code: 'import { sql } from "drizzle-orm";\nexport const raw = sql.raw;\n',
    ruleId: "no-restricted-syntax",
    messageIncludes: "sql`` template",
  },
  { name: "eval(...)", code: 'export const result = eval("1 + 1");\n', ruleId: "no-eval" },
  { name: "new Function(...)", code: 'export const build = new Function("return 1");\n', ruleId: "no-new-func" },
  { name: "Function(...)", code: 'export const build = Function("return 1");\n', ruleId: "no-new-func" },
  {
    name: 'import from "child_process"',
    code: 'import { execFile } from "child_process";\nexport const run = execFile;\n',
    ruleId: "no-restricted-imports",
  },
  {
    name: 'import from "node:child_process"',
    code: 'import { spawn } from "node:child_process";\nexport const run = spawn;\n',
    ruleId: "no-restricted-imports",
  },
  {
    name: 'require("child_process")',
    code: 'const childProcess = require("child_process");\nexport const run = childProcess.exec;\n',
    ruleId: "no-restricted-modules",
  },
  {
    name: 'import("node:child_process")',
    code: 'export async function load() {\n  return import("node:child_process");\n}\n',
    ruleId: "no-restricted-syntax",
  },
];

describe("ESLint project rules for application code", () => {
  for (const { name, code, ruleId, messageIncludes } of banned) {
    it(`reports ${name} in lib/ as an error from ${ruleId}`, async () => {
      const errors = errorsFrom(await lint(code), ruleId);
      expect(errors).toHaveLength(1);
      if (messageIncludes) {
        expect(errors[0]?.message).toContain(messageIncludes);
      }
    });
  }

  it("applies the same rules to app/, db/, components/, proxy.ts and server.ts", async () => {
    const code = 'import { sql } from "drizzle-orm";\nexport const query = sql.raw("select 1");\n';
    for (const filePath of ["app/page.tsx", "db/example.ts", "components/example.tsx", "proxy.ts", "server.ts"]) {
      expect(errorsFrom(await lint(code, filePath), "no-restricted-syntax"), filePath).toHaveLength(1);
    }
  });

  it("reports nothing at all for a parameterised sql`` query", async () => {
    const code = [
      'import { sql } from "drizzle-orm";',
      "",
      "export function accountById(id: string) {",
      "  return sql`select * from accounts where id = ${id}`;",
      "}",
      "",
    ].join("\n");
    expect(await lint(code)).toEqual([]);
  });

  it("leaves tests and tools free to start processes", async () => {
    const code = 'import { execFile } from "node:child_process";\nexport const run = execFile;\n';
    expect(await lint(code, "tests/security/tools/example.ts")).toEqual([]);
  });
});
