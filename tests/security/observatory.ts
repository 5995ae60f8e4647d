/**
 * The Mozilla HTTP Observatory scanner as a test tool: `observatoryScan("localhost:8443", { caCertificatePath })`
 * grades a running instance of the app the way https://developer.mozilla.org/observatory does, offline.
 *
 * How it runs: the pinned scanner package is installed on demand into `.data/tools/observatory`
 * (tools/observatory-install.ts; it is not a project dependency), and its CLI entry point `src/scan.js` is run
 * in a child process with `NODE_EXTRA_CA_CERTS` set to the app's certificate. That variable is read only when a
 * Node process starts, hence the child. Without it the scanner would not fail: it silently retries with
 * certificate checks off and then fails HSTS as `hsts-invalid-cert`, so `certificateVerified` below is checked.
 *
 * Ports: the scanner fetches `https://<hostname>/` and `http://<hostname>/` and follows redirects from both
 * (src/retriever/url.js builds `${scheme}://${hostname}${port}` and `scan()` passes no port option), so a
 * `host:port` argument is taken as part of the URL authority for both probes. The HTTPS probe then reaches the
 * app; the plain-HTTP probe goes to the same (TLS) port, fails to connect, and the redirection test reports
 * `redirection-not-needed-no-http` (a pass worth 0): on a non-default port, this scan does not exercise the
 * HTTP-to-HTTPS redirect listener, which is therefore tested separately (tests/e2e/transport-and-headers.spec.ts).
 */
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import { ensureObservatoryInstalled } from "./tools/observatory-install";

export interface ObservatoryTestResult {
  /** The result the scanner expects of a good site, e.g. `csp-implemented-with-no-unsafe`. */
  expectation: string;
  pass: boolean;
  /** What the scanner found, e.g. `csp-implemented-with-unsafe-inline`, `hsts-not-implemented`. */
  result: string;
  /** Points added to or taken from the score of 100 (bonus points count only when the rest already earns an A). */
  scoreModifier: number;
  /** Test-specific details the scanner reports (`data`, `policy`, `route`, `sameSite`, …). */
  [detail: string]: unknown;
}

export interface ObservatoryScanResult {
  /** `A+` … `F`. */
  grade: string;
  score: number;
  statusCode: number;
  testsPassed: number;
  testsFailed: number;
  testsQuantity: number;
  algorithmVersion: number;
  /** Whether the HTTPS response was fetched with the certificate verified (false means the CA path is wrong). */
  certificateVerified: boolean;
  responseHeaders: Record<string, string>;
  /** Keyed by test name: `content-security-policy`, `cookies`, `cross-origin-resource-sharing`, `redirection`,
   * `referrer-policy`, `strict-transport-security`, `subresource-integrity`, `x-content-type-options`,
   * `x-frame-options`, `cross-origin-resource-policy`. */
  tests: Record<string, ObservatoryTestResult>;
}

export interface ObservatoryScanOptions {
  /** PEM certificate (or CA bundle) that the app's TLS certificate chains to, e.g. `.data/e2e/tls/cert.pem`. */
  caCertificatePath: string;
  /** Kills the scanner after this long. The scanner's own request timeout is 10 s per request. */
  timeoutMilliseconds?: number;
}

interface ScanCliOutput {
  error?: string;
  scan?: {
    algorithmVersion: number;
    grade: string | null;
    error: string | null;
    score: number | null;
    statusCode: number;
    testsFailed: number;
    testsPassed: number;
    testsQuantity: number;
    responseHeaders: Record<string, string>;
  };
  tests?: Record<string, { expectation: string; pass: boolean | null; result: string; scoreModifier: number | null }>;
}

/** True for a bare authority (`host`, `host:port`, `[::1]:port`): the scanner pastes it into `https://…/`. */
function isHostWithPort(value: string): boolean {
  try {
    const url = new URL(`https://${value}/`);
    const authority = value.toLowerCase();
    return (
      (url.host === authority || `${url.host}:443` === authority) &&
      url.pathname === "/" &&
      url.username === "" &&
      url.password === "" &&
      url.search === "" &&
      url.hash === ""
    );
  } catch {
    return false;
  }
}

// These would send the scanner's requests for a local server through a proxy (axios honours them).
const proxyVariables = ["HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"];

function runScanner(
  scanScript: string,
  hostWithPort: string,
  caCertificatePath: string,
  timeoutMilliseconds: number,
): Promise<{ stdout: string; stderr: string; exitCode: number | null }> {
  // A test runner's loaders or flags are not meant for the scanner, nor are proxies for a local target.
  const environment: NodeJS.ProcessEnv = { ...process.env, NODE_EXTRA_CA_CERTS: caCertificatePath };
  for (const name of ["NODE_OPTIONS", ...proxyVariables]) Reflect.deleteProperty(environment, name);
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [scanScript, hostWithPort],
      {
        cwd: path.dirname(path.dirname(scanScript)),
        env: environment,
        timeout: timeoutMilliseconds,
        maxBuffer: 32 * 1024 * 1024,
      },
      (error, stdout, stderr) => {
        if (error && error.killed) {
          reject(new Error(`The Observatory scan of ${hostWithPort} did not finish within ${timeoutMilliseconds} ms`));
          return;
        }
        const exitCode = error ? (typeof error.code === "number" ? error.code : null) : 0;
        resolve({ stdout, stderr, exitCode });
      },
    );
  });
}

/** Scans `https://<hostWithPort>/` with the MDN HTTP Observatory and returns its grade and per-test results. */
export async function observatoryScan(
  hostWithPort: string,
  options: ObservatoryScanOptions,
): Promise<ObservatoryScanResult> {
  if (!isHostWithPort(hostWithPort)) {
    throw new Error(`observatoryScan wants "host" or "host:port" (no scheme, no path), got "${hostWithPort}"`);
  }
  const caCertificatePath = path.resolve(options.caCertificatePath);
  if (!existsSync(caCertificatePath)) {
    throw new Error(`The CA certificate ${caCertificatePath} does not exist`);
  }

  const packageDirectory = await ensureObservatoryInstalled();
  const scanScript = path.join(packageDirectory, "src", "scan.js");
  const { stdout, stderr, exitCode } = await runScanner(
    scanScript,
    hostWithPort,
    caCertificatePath,
    options.timeoutMilliseconds ?? 120_000,
  );

  // Node reports an unreadable NODE_EXTRA_CA_CERTS file only as a warning, and the scan would go on unverified.
  if (/Ignoring extra certs/.test(stderr)) {
    throw new Error(`Node could not load ${caCertificatePath} as NODE_EXTRA_CA_CERTS: ${stderr.trim()}`);
  }

  let output: ScanCliOutput;
  try {
    output = JSON.parse(stdout) as ScanCliOutput;
  } catch {
    throw new Error(
      `The Observatory scanner exited with ${exitCode} and printed no JSON.\nstdout: ${stdout}\nstderr: ${stderr}`,
    );
  }
  if (output.error !== undefined || exitCode !== 0 || !output.scan || !output.tests) {
    throw new Error(`The Observatory scan of ${hostWithPort} failed: ${output.error ?? (stderr.trim() || stdout)}`);
  }
  const { scan } = output;
  if (scan.grade === null || scan.score === null) {
    throw new Error(`The Observatory scan of ${hostWithPort} returned no grade: ${scan.error ?? "no reason given"}`);
  }

  const tests: Record<string, ObservatoryTestResult> = {};
  for (const [name, test] of Object.entries(output.tests)) {
    tests[name] = { ...test, pass: test.pass === true, scoreModifier: test.scoreModifier ?? 0 };
  }

  return {
    grade: scan.grade,
    score: scan.score,
    statusCode: scan.statusCode,
    testsPassed: scan.testsPassed,
    testsFailed: scan.testsFailed,
    testsQuantity: scan.testsQuantity,
    algorithmVersion: scan.algorithmVersion,
    certificateVerified: tests["strict-transport-security"]?.result !== "hsts-invalid-cert",
    responseHeaders: scan.responseHeaders,
    tests,
  };
}
