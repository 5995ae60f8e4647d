import javascript from "@eslint/js";
import nextPlugin from "@next/eslint-plugin-next";
import drizzle from "eslint-plugin-drizzle";
import security from "eslint-plugin-security";
import globals from "globals";
import typescript from "typescript-eslint";

// Names under which a Drizzle database or transaction appears in this codebase; the drizzle rules refuse an
// UPDATE or DELETE through any of them that has no WHERE clause.
const drizzleObjectName = ["db", "tx", "database", "queryable", "enclosingTransaction"];

export default typescript.config(
  { ignores: ["node_modules/", ".next/", ".data/", "drizzle/", "test-results/", "playwright-report/", "next-env.d.ts"] },
  javascript.configs.recommended,
  ...typescript.configs.strict,
  security.configs.recommended,
  {
    plugins: { drizzle, "@next/next": nextPlugin },
    languageOptions: { globals: { ...globals.node } },
    rules: {
      ...nextPlugin.configs.recommended.rules,
      ...nextPlugin.configs["core-web-vitals"].rules,
      "drizzle/enforce-delete-with-where": ["error", { drizzleObjectName }],
      "drizzle/enforce-update-with-where": ["error", { drizzleObjectName }],
      "@typescript-eslint/no-explicit-any": "error",
      "@typescript-eslint/ban-ts-comment": ["error", { "ts-expect-error": "allow-with-description" }],
      "@typescript-eslint/consistent-type-imports": ["error", { fixStyle: "inline-type-imports" }],
      "no-console": "error",
      eqeqeq: ["error", "always"],
      // Object lookups here index typed records with typed keys; the rule cannot tell those from user input
      // and would bury the findings that matter.
      "security/detect-object-injection": "off",
    },
  },
  {
    // These files open paths that come from validated configuration (data folder, keyring, TLS files),
    // never from a request; the rule cannot tell the two apart.
    files: ["db/client.ts", "db/seed-demo-data.ts", "lib/crypto/keyring-format.ts", "lib/crypto/local-keyring.ts", "server.ts"],
    rules: { "security/detect-non-literal-fs-filename": "off" },
  },
  {
    // Tests and tools may build paths from variables and print; the rest of the rules still apply.
    files: ["tests/**", "scripts/**", "bench/**", "playwright.config.ts", "vitest.config.ts"],
    rules: {
      "security/detect-non-literal-fs-filename": "off",
      "no-console": "off",
    },
  },
);
