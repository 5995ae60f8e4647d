import { defineConfig } from "@playwright/test";
import { debianChromiumLaunchOptions } from "./tests/helpers/chromium";

// The security suite (npm run test:security) runs against the built app started exactly as run.sh starts it,
// over HTTPS, with the REAL rate limits on the shared Redis at 127.0.0.1:6379. Its own ports and embedded data
// folder (recreated each run) keep it away from a developer's data and from the e2e suite (which uses 8443 and
// 8444, and 1443 and 1444), so that the two can also run at the same time.
// SECURITY_PORT moves the suite (both ports and the data folder), like E2E_PORT for the e2e suite.
export const securityPort = Number(process.env.SECURITY_PORT ?? 8450);
export const securityHttpPort = securityPort - 7000;
export const securityDataDirectory = `.data/security-${securityPort}`;
export const securityOrigin = `https://localhost:${securityPort}`;

// Rate-limit counters live in the shared Redis for up to a day. A prefix unique to this run keeps the counters
// of an earlier run (or of another suite) out of this one. Set once in the runner process; the test workers
// inherit the environment, so they see the same value when they load this file again.
process.env.SECURITY_RATE_LIMIT_PREFIX ??= `bank-security-${Date.now().toString(36)}-${process.pid}`;
export const securityRateLimitPrefix = process.env.SECURITY_RATE_LIMIT_PREFIX;

export default defineConfig({
  testDir: "tests/security",
  fullyParallel: false,
  workers: 1,
  retries: 0,
  timeout: 30_000,
  forbidOnly: Boolean(process.env.CI),
  reporter: [["list"]],
  // Not the e2e suite's test-results/: Playwright empties its output folder when it starts, and the two
  // suites may run side by side.
  outputDir: "test-results/security",
  use: {
    baseURL: securityOrigin,
    // The certificate is the self-signed one run.sh creates; raw requests in the suite pin it as their CA.
    ignoreHTTPSErrors: true,
    trace: "off",
    launchOptions: debianChromiumLaunchOptions,
  },
  webServer: {
    command:
      `rm -rf ${securityDataDirectory} && DATA_DIR=${securityDataDirectory} PORT=${securityPort} ` +
      `HTTP_PORT=${securityHttpPort} APP_ORIGIN=${securityOrigin} DATABASE_URL= REDIS_URL=redis://127.0.0.1:6379 ` +
      `RATE_LIMIT_PREFIX=${securityRateLimitPrefix} ./run.sh start`,
    url: `${securityOrigin}/api/health`,
    ignoreHTTPSErrors: true,
    reuseExistingServer: false,
    timeout: 240_000,
    stdout: "ignore",
    stderr: "pipe",
  },
});
