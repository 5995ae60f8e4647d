import fs from "node:fs";
import path from "node:path";
import { expect, test } from "@playwright/test";
import { securityRateLimitPrefix } from "../../playwright.security.config";
import { clientAddresses } from "./support/client-addresses";
import { certificate, demoSignIn } from "./support/environment";
import { firstFreePort, type ManagedProcess, redisAnswers, startProcess, waitFor } from "./support/processes";
import { CookieJar, headerValue, jsonOf, rawRequest, type RawResponse } from "./support/raw-http";
import { completeSecondFactor, formFields, locationPath, postSignInForm, sessionCookieName, wrongPasswordMessage } from "./support/sign-in";

/**
 * A Redis outage, for real: this test starts its own Redis and its own instance of the app pointed at it (the
 * shared Redis and the suite's server are never touched), stops that Redis, and watches the sign-in door fail
 * closed with 503 while page views fail open, then come back once Redis does.
 */
const outageDataDirectory = ".data/security-redis-outage";

function expectUnavailable(response: RawResponse, label: string, html: boolean): void {
  expect(response.status, label).toBe(503);
  expect(response.elapsedMilliseconds, `${label}: answered promptly, not after a timeout`).toBeLessThan(2_000);
  expect(headerValue(response.headers, "retry-after"), `${label}: Retry-After`).toMatch(/^\d+$/);
  expect(response.headers["set-cookie"] ?? [], `${label}: no session`).not.toContainEqual(expect.stringContaining(sessionCookieName));
  expect(response.body, `${label}: no stack trace`).not.toMatch(/\bat\s+\S+\s+\(|\n\s+at\s|ECONNREFUSED|ioredis|Redis/i);
  if (html) {
    expect(headerValue(response.headers, "content-type"), label).toMatch(/^text\/html/);
    expect(response.body, label).toMatch(/<h1>[^<]*unavailable[^<]*<\/h1>/i);
  } else {
    expect(headerValue(response.headers, "content-type"), label).toMatch(/^application\/problem\+json/);
    expect(jsonOf(response), label).toMatchObject({ status: 503, code: "unavailable" });
  }
}

test("with Redis down the sign-in door answers 503 at once (pages stay up), and it reopens within seconds of Redis returning", async () => {
  test.setTimeout(150_000);
  const redisPort = await firstFreePort([6391, 6392, 6393, 6394]);
  const appPort = await firstFreePort([8445, 8446, 8447]);
  const httpPort = await firstFreePort([8083, 8084, 8085]);
  const startRedis = (): ManagedProcess =>
    startProcess("redis-server", ["--port", String(redisPort), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--daemonize", "no"]);

  const appOrigin = `https://localhost:${appPort}`;
  let redis: ManagedProcess | undefined = startRedis();
  let app: ManagedProcess | undefined;
  try {
    await waitFor("the test's Redis to answer", () => redisAnswers(redisPort), 10_000);
    // Exactly as run.sh serves the app, on its own ports and data, with the real limits.
    fs.rmSync(outageDataDirectory, { recursive: true, force: true });
    app = startProcess("./run.sh", ["start"], {
      env: {
        ...process.env,
        DATA_DIR: outageDataDirectory,
        PORT: String(appPort),
        HTTP_PORT: String(httpPort),
        APP_ORIGIN: appOrigin,
        DATABASE_URL: "",
        REDIS_URL: `redis://127.0.0.1:${redisPort}`,
        RATE_LIMIT_PREFIX: `${securityRateLimitPrefix}-outage`,
      },
    });
    let ca: Buffer | undefined;
    const request = (options: Parameters<typeof rawRequest>[0]) => rawRequest({ ...options, port: appPort, ca });
    await waitFor(
      "the second app instance to answer /api/health",
      async () => {
        // run.sh creates the certificate early in its preparation; read whatever is there on each try.
        ca = certificate(outageDataDirectory);
        return (await request({ path: "/api/health", from: clientAddresses.redisOutage })).status === 200;
      },
      100_000,
      250,
    ).catch((error: unknown) => {
      throw new Error(`${String(error)}\n--- app output ---\n${app?.output() ?? ""}`);
    });

    const person = demoSignIn("alice@example.com", path.resolve(outageDataDirectory));
    const from = clientAddresses.redisOutage;
    const signInPage = await request({ path: "/login", from, headers: { accept: "text/html" } });
    expect(signInPage.status).toBe(200);
    const outageFields = formFields(signInPage.body);
    const attempt = (password: string, accept: string, source: string = from) =>
      postSignInForm({ from: source, fields: outageFields, email: person.email, password, port: appPort, ca, headers: { accept, origin: appOrigin } });

    // With Redis up, the door is open: a wrong password gets the ordinary answer.
    const before = await attempt("wrong-before-outage", "text/html");
    expect(before.status).toBe(200);
    expect(before.body).toContain(wrongPasswordMessage);

    await redis.stop();
    redis = undefined;
    expect(await redisAnswers(redisPort), "the test's Redis is down").toBe(false);

    expectUnavailable(await attempt("wrong-during-outage", "application/json"), "API client signing in", false);
    expectUnavailable(await attempt("wrong-during-outage", "text/html,application/xhtml+xml"), "browser signing in", true);
    // Failing closed means even the right password gets no session while the limiter cannot count.
    expectUnavailable(await attempt(person.password, "application/json"), "right password during the outage", false);
    const api = await request({ path: "/api/v1/accounts", from, headers: { accept: "application/json" } });
    expectUnavailable(api, "the API during the outage", false);
    // Page views fail open by design: the sign-in page still renders.
    const pageDuringOutage = await request({ path: "/login", from, headers: { accept: "text/html" } });
    expect(pageDuringOutage.status).toBe(200);
    expect(pageDuringOutage.body).toContain("Sign in");

    redis = startRedis();
    await waitFor("the test's Redis to come back", () => redisAnswers(redisPort), 10_000, 50);
    const recoveryMilliseconds = await waitFor(
      "the sign-in door to reopen",
      async () => (await attempt("wrong-after-outage", "application/json")).status !== 503,
      10_000,
      200,
    );
    test.info().annotations.push({ type: "recovery", description: `${Math.round(recoveryMilliseconds)} ms after Redis answered` });
    expect(recoveryMilliseconds, "the door reopens within about 5 s of Redis answering again").toBeLessThan(5_000);
    const after = await attempt(person.password, "text/html", clientAddresses.redisOutageRecovery);
    expect(after.status, "a real sign-in works again").toBe(303);
    // The password earns the second step; the code then completes the sign-in with a session cookie.
    const secondStepPath = locationPath(after);
    expect(secondStepPath).toMatch(/^\/login\/second-factor\?/);
    const jar = new CookieJar().absorb(after.headers);
    expect(jar.get(sessionCookieName), "no session from the password alone").toBeUndefined();
    const completed = await completeSecondFactor({
      jar,
      secondStepPath,
      totpSecret: person.totpSecret,
      from: clientAddresses.redisOutageRecovery,
      port: appPort,
      ca,
      headers: { origin: appOrigin },
    });
    expect(completed.status, "the second step completes the sign-in").toBe(303);
    expect(jar.get(sessionCookieName), "a session cookie after the second factor").toBeTruthy();
  } finally {
    await app?.stop();
    await redis?.stop();
  }
});
