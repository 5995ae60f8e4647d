/**
 * The image's HEALTHCHECK: GET /api/health over HTTPS on the loopback interface, exit 0 when it answers 200.
 *
 * server.ts serves only TLS (plain HTTP is a redirect), so the check speaks TLS too. It trusts exactly the
 * certificate the server was configured with (TLS_CERT_PATH): the file is the chain from the server's
 * certificate up to its CA (docker/secrets/generate.sh writes it that way), and the certificate presented
 * must be the first one in that file, fingerprint for fingerprint, whatever names it carries. So the check
 * needs no extra trust setting, and it cannot be answered by anything but this server.
 *
 * Plain JavaScript run by node, not TypeScript run by tsx: it runs every few seconds, and tsx's start-up
 * would cost more than the request. /api/health is outside proxy.ts's matcher, so the checks never count
 * against the per-IP page limits.
 */
import { X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import https from "node:https";

const timeoutMilliseconds = 4_000;

function fail(message) {
  process.stderr.write(`healthcheck: ${message}\n`);
  process.exit(1);
}

const certificatePath = process.env.TLS_CERT_PATH;
if (!certificatePath) fail("TLS_CERT_PATH is not set");
const port = Number(process.env.PORT ?? "8000");
if (!Number.isInteger(port) || port < 1 || port > 65535) fail(`PORT is not a port number: ${process.env.PORT}`);

// The path is the server's own configuration (the container's environment), never input from a request.
// eslint-disable-next-line security/detect-non-literal-fs-filename -- see the line above
const chain = readFileSync(certificatePath, "utf8");
const expectedFingerprint = new X509Certificate(chain).fingerprint256;

const request = https.request(
  {
    host: "127.0.0.1",
    port,
    path: "/api/health",
    method: "GET",
    ca: chain,
    // The chain is still verified against `ca`; the name check is replaced by the stricter fingerprint match,
    // because the certificate names the service (app-1, bank.example), not the loopback address.
    checkServerIdentity: (_host, certificate) =>
      certificate.fingerprint256 === expectedFingerprint
        ? undefined
        : new Error("the server presented a certificate other than the one in TLS_CERT_PATH"),
    timeout: timeoutMilliseconds,
    agent: false,
  },
  (response) => {
    response.resume();
    if (response.statusCode === 200) process.exit(0);
    fail(`/api/health answered ${response.statusCode}`);
  },
);
request.on("timeout", () => request.destroy(new Error(`no answer within ${timeoutMilliseconds} ms`)));
request.on("error", (error) => fail(error.message));
request.end();
