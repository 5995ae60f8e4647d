import javascript from "@eslint/js";
import nextPlugin from "@next/eslint-plugin-next";
import drizzle from "eslint-plugin-drizzle";
import security from "eslint-plugin-security";
import globals from "globals";
import typescript from "typescript-eslint";

// Names under which a Drizzle database or transaction appears in this codebase; the drizzle rules refuse an
// UPDATE or DELETE through any of them that has no WHERE clause.
const drizzleObjectName = ["db", "tx", "database", "queryable", "enclosingTransaction"];

// The application's own code: what runs in the server (and the browser) for customers and staff.
const appCode = ["app/**", "lib/**", "db/**", "components/**", "proxy.ts", "server.ts", "instrumentation.ts"];

const childProcessMessage =
  "The application never starts processes: a shell or a child process reachable from a request is remote code " +
  "execution. Do the work in-process, or in a separate tool outside app code.";
const sqlRawMessage =
  "sql.raw() puts a string into the query unescaped, so any value that reaches it is SQL injection. Write the " +
  "query with the sql`` template and ${value} placeholders (Drizzle sends them as bound parameters), or " +
  "sql.identifier() for a fixed table or column name.";

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
    // Project rules for application code: constructs that turn data into code (SQL, JavaScript or a shell
    // command) are refused outright. Tests and tools are outside this list on purpose: they may start processes.
    files: appCode,
    rules: {
      "no-eval": "error",
      "no-implied-eval": "error",
      // Reports `new Function(...)` and `Function(...)` (and Function.call/apply/bind) alike.
      "no-new-func": "error",
      "no-restricted-syntax": [
        "error",
        {
          selector: "CallExpression[callee.type='MemberExpression'][callee.object.name='sql'][callee.property.name='raw']",
          message: sqlRawMessage,
        },
        {
          // sql["raw"](...) and a bare reference such as `const raw = sql.raw`.
          selector:
            "MemberExpression[object.name='sql'][property.value='raw'], " +
            "MemberExpression[object.name='sql'][property.name='raw'][computed=false]:not(CallExpression > MemberExpression.callee)",
          message: sqlRawMessage,
        },
        {
          // `await import("node:child_process")`, which no-restricted-imports does not see.
          selector: "ImportExpression[source.value=/^(node:)?child_process$/]",
          message: childProcessMessage,
        },
      ],
      // Covers `import ... from` and TypeScript's `import cp = require(...)`.
      "no-restricted-imports": [
        "error",
        {
          paths: [
            { name: "child_process", message: childProcessMessage },
            { name: "node:child_process", message: childProcessMessage },
          ],
        },
      ],
      // Covers `require(...)` (deprecated in core ESLint, still shipped in v9, and still the rule for it).
      "no-restricted-modules": [
        "error",
        {
          paths: [
            { name: "child_process", message: childProcessMessage },
            { name: "node:child_process", message: childProcessMessage },
          ],
        },
      ],
    },
  },
  {
    // These files open paths that come from validated configuration (data folder, keyring, TLS files),
    // never from a request; the rule cannot tell the two apart.
    files: ["db/client.ts", "db/seed-demo-data.ts", "lib/crypto/keyring-format.ts", "lib/crypto/keyring-upgrade.ts", "lib/crypto/local-keyring.ts", "lib/crypto/keyring-lock.ts", "server.ts"],
    rules: { "security/detect-non-literal-fs-filename": "off" },
  },
  {
    // The PKCS#11 key provider reads the PIN file that validated configuration names (PKCS11_PIN_FILE), never
    // a path that comes from a request.
    files: ["lib/crypto/pkcs11-provider.ts"],
    rules: { "security/detect-non-literal-fs-filename": "off" },
  },
  {
    // The CA files of the database and Redis connections come from validated configuration (sslrootcert in
    // DATABASE_URL, REDIS_TLS_CA_FILE), never from a request.
    files: ["db/postgres-connection.ts", "lib/security/rate-limit/redis-limiter.ts"],
    rules: { "security/detect-non-literal-fs-filename": "off" },
  },
  {
    // The encrypted database backups (lib/backup) read and write the files and the PGlite folder that the
    // operator names on the command line of db:backup / db:verify / db:restore, never a path from a request.
    files: ["lib/backup/**"],
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
