import { defineConfig } from "@playwright/test";
import { debianChromiumLaunchOptions } from "./tests/helpers/chromium";

// The end-to-end suite runs against the built app started exactly as run.sh starts it, over HTTPS, on its own
// ports and its own embedded data folder (recreated each run) so that it never touches a developer's data.
// E2E_PORT moves the whole suite (HTTPS port, HTTP port and data folder), so that two checkouts on one
// machine can run it side by side.
export const e2ePort = Number(process.env.E2E_PORT ?? 8443);
export const e2eHttpPort = e2ePort - 7000;
export const e2eDataDirectory = `.data/e2e-${e2ePort}`;
const origin = `https://localhost:${e2ePort}`;
// The suite reaches the app through nginx with ModSecurity and the OWASP Core Rule Set, configured from
// docker/nginx as in a deployment (tests/e2e/serve-behind-nginx.sh): e2ePort and e2eHttpPort are nginx's, and
// the app itself listens on e2eAppPort (and its own HTTP redirect on e2eAppPort - 7000), trusting nginx alone.
// So every browser flow of the suite also proves that the firewall lets the bank's own traffic through.
export const e2eAppPort = e2ePort + 20;

// The lockout tests wait a lock out for real (tests/e2e/identity.spec.ts); the real limits on sign-in and
// registration are the security suite's business, so this suite raises them above its own traffic. Page views
// too: every sign-in now passes through a second page (the code or the enrolment), and the whole suite, all
// from 127.0.0.1, would otherwise run into the 600-an-hour page-view limit near its end.
export const e2eLockoutSeconds = 15;

// A second server with a very short idle limit, so that the session-timeout tests can watch a session end
// (tests/e2e/sessions.spec.ts). Its own port (E2E_PORT + 1) and data folder; same build.
export const shortIdlePort = e2ePort + 1;
export const shortIdleHttpPort = shortIdlePort - 7000;
export const shortIdleDataDirectory = `.data/e2e-${shortIdlePort}`;
export const shortIdleOrigin = `https://localhost:${shortIdlePort}`;
export const shortIdleTimeoutSeconds = 20;
export const shortIdleWarningSeconds = 10;

export default defineConfig({
  testDir: "tests/e2e",
  fullyParallel: false,
  workers: 1,
  // Its own folder: the security suite may run at the same time, and Playwright empties its output folder on start.
  outputDir: "test-results/e2e",
  retries: 0,
  timeout: 30_000,
  forbidOnly: Boolean(process.env.CI),
  reporter: [["list"]],
  use: {
    baseURL: origin,
    // The certificate is the self-signed one run.sh creates; the suite checks TLS is used, not who signed it.
    ignoreHTTPSErrors: true,
    trace: "off",
    launchOptions: debianChromiumLaunchOptions,
  },
  // Playwright starts these one after the other, so only the first can ever build the app.
  webServer: [
    {
      command:
        `rm -rf ${e2eDataDirectory} && DATA_DIR=${e2eDataDirectory} FRONT_HTTPS_PORT=${e2ePort} FRONT_HTTP_PORT=${e2eHttpPort} ` +
        `PORT=${e2eAppPort} HTTP_PORT=${e2eAppPort - 7000} DATABASE_URL= REDIS_URL= RATE_LIMIT_SIGN_IN_PER_15_MINUTES=200 ` +
        `RATE_LIMIT_REGISTRATION_PER_HOUR=200 RATE_LIMIT_PAGE_VIEWS_PER_HOUR=5000 RATE_LIMIT_API_PER_HOUR=2000 RATE_LIMIT_API_PER_DAY=5000 RATE_LIMIT_USER_ACTIONS_PER_HOUR=2000 LOCKOUT_DURATION_SECONDS=${e2eLockoutSeconds} tests/e2e/serve-behind-nginx.sh`,
      url: `${origin}/api/health`,
      ignoreHTTPSErrors: true,
      reuseExistingServer: false,
      timeout: 240_000,
      stdout: "ignore",
      stderr: "pipe",
    },
    {
      command:
        `rm -rf ${shortIdleDataDirectory} && DATA_DIR=${shortIdleDataDirectory} PORT=${shortIdlePort} ` +
        `HTTP_PORT=${shortIdleHttpPort} APP_ORIGIN=${shortIdleOrigin} DATABASE_URL= REDIS_URL= ` +
        `RATE_LIMIT_SIGN_IN_PER_15_MINUTES=200 RATE_LIMIT_PAGE_VIEWS_PER_HOUR=5000 SESSION_IDLE_TIMEOUT_SECONDS=${shortIdleTimeoutSeconds} ` +
        `SESSION_WARNING_SECONDS=${shortIdleWarningSeconds} ./run.sh start`,
      url: `${shortIdleOrigin}/api/health`,
      ignoreHTTPSErrors: true,
      reuseExistingServer: false,
      timeout: 240_000,
      stdout: "ignore",
      stderr: "pipe",
    },
  ],
});
