import path from "node:path";
import { defineConfig } from "vitest/config";

// Server code begins with `import "server-only"`, which throws outside Next's server build unless the
// `react-server` export condition is active (STACK-NOTES trap 23). Tests in the node environment run in
// Vite's SSR environment, which reads `ssr.resolve.conditions`, so the condition is set there as well.
const serverConditions = ["react-server", "node", "import", "default"];
const shared = {
  resolve: {
    alias: { "@": path.resolve(import.meta.dirname) },
    conditions: serverConditions,
  },
  ssr: { resolve: { conditions: serverConditions } },
};

// Each integration file gets its own fresh database, roles and temporary folder
// (tests/helpers/integration-environment.ts) and runs in a fresh worker process (Vitest's default isolation),
// so files run side by side, one per core: nothing but the PostgreSQL and Redis servers themselves is shared.
const integration = {
  include: ["tests/integration/**/*.test.ts"],
  environment: "node" as const,
  testTimeout: 30_000,
  hookTimeout: 60_000,
  fileParallelism: true,
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
          ...integration,
          name: "integration-postgres",
          globalSetup: ["tests/helpers/postgres-global-setup.ts"],
          env: { INTEGRATION_DATABASE: "postgres" },
        },
      },
      {
        ...shared,
        test: { ...integration, name: "integration-pglite", env: { INTEGRATION_DATABASE: "pglite" } },
      },
      {
        ...shared,
        test: { name: "integration-redis", include: ["tests/redis/**/*.test.ts"], environment: "node", testTimeout: 30_000 },
      },
    ],
  },
});
