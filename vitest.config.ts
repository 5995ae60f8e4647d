import path from "node:path";
import { defineConfig } from "vitest/config";

// Server code begins with `import "server-only"`, which throws outside Next's server build unless the
// `react-server` export condition is active (STACK-NOTES trap 23), so every project resolves with it.
const shared = {
  resolve: {
    alias: { "@": path.resolve(import.meta.dirname) },
    conditions: ["react-server", "node", "import", "default"],
  },
};

export default defineConfig({
  ...shared,
  test: {
    projects: [
      {
        ...shared,
        test: { name: "unit", include: ["tests/unit/**/*.test.ts"], environment: "node" },
      },
      {
        ...shared,
        test: {
          name: "integration-postgres",
          include: ["tests/integration/**/*.test.ts"],
          environment: "node",
          globalSetup: ["tests/helpers/postgres-global-setup.ts"],
          env: { INTEGRATION_DATABASE: "postgres" },
          testTimeout: 30_000,
          hookTimeout: 60_000,
          fileParallelism: false,
        },
      },
      {
        ...shared,
        test: {
          name: "integration-pglite",
          include: ["tests/integration/**/*.test.ts"],
          environment: "node",
          env: { INTEGRATION_DATABASE: "pglite" },
          testTimeout: 30_000,
          hookTimeout: 60_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
