/**
 * The limiter's Redis connection over TLS (issue 11), against a real redis-server that this file starts with a
 * TLS port only and certificates from a CA it makes with openssl: the app's own client (rateLimitRedisClient)
 * connects over rediss:// when given the CA, refuses a server whose certificate comes from another CA or names
 * another host, and the rate limits work through it.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../helpers/free-port";
import { parseEnvironment } from "@/lib/env-schema";
import { consumeRateLimit } from "@/lib/security/rate-limit";
import { rateLimitRedisClient, untilReady } from "@/lib/security/rate-limit/redis-limiter";

const folder = fs.mkdtempSync(path.join(os.tmpdir(), "bank-redis-tls-"));
const password = crypto.randomBytes(16).toString("hex");
let port = 0;
let server: ChildProcess | undefined;

function openssl(...parameters: string[]): void {
  execFileSync("openssl", parameters, { stdio: "ignore" });
}

/** A CA and a server certificate from it for `subjectAltName`, in the folder under `name`. */
function issue(name: string, authority: string, subjectAltName: string): void {
  const extensions = path.join(folder, `${name}.ext`);
  fs.writeFileSync(extensions, `subjectAltName=${subjectAltName}\nextendedKeyUsage=serverAuth\n`);
  openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", `/CN=${name}`,
    "-keyout", path.join(folder, `${name}-key.pem`), "-out", path.join(folder, `${name}.csr`));
  openssl("x509", "-req", "-in", path.join(folder, `${name}.csr`), "-CA", path.join(folder, `${authority}.pem`),
    "-CAkey", path.join(folder, `${authority}-key.pem`), "-set_serial", `0x${crypto.randomBytes(8).toString("hex")}`,
    "-days", "1", "-extfile", extensions, "-out", path.join(folder, `${name}.pem`));
}

function makeAuthority(name: string): void {
  openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "1", "-subj", `/CN=${name}`,
    "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign",
    "-keyout", path.join(folder, `${name}-key.pem`), "-out", path.join(folder, `${name}.pem`));
}

beforeAll(async () => {
  makeAuthority("ca");
  makeAuthority("other-ca");
  issue("redis", "ca", "DNS:localhost,IP:127.0.0.1");
  port = await freePort();
  fs.writeFileSync(
    path.join(folder, "redis.conf"),
    [
      // Two loopback addresses: the certificate names only the first, so the second is "another host".
      "bind 127.0.0.1 127.0.0.2",
      "port 0",
      `tls-port ${port}`,
      `tls-cert-file ${path.join(folder, "redis.pem")}`,
      `tls-key-file ${path.join(folder, "redis-key.pem")}`,
      `tls-ca-cert-file ${path.join(folder, "ca.pem")}`,
      "tls-auth-clients no",
      `requirepass ${password}`,
      'save ""',
      "appendonly no",
      `dir ${folder}`,
    ].join("\n"),
    { mode: 0o600 },
  );
  server = spawn("redis-server", [path.join(folder, "redis.conf")], { stdio: "ignore" });
  // Ready when the TLS port accepts connections.
  for (let attempt = 0; attempt < 100; attempt += 1) {
    const listening = await new Promise<boolean>((resolve) => {
      const socket = net.connect({ host: "127.0.0.1", port }, () => {
        socket.destroy();
        resolve(true);
      });
      socket.on("error", () => resolve(false));
    });
    if (listening) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error("redis-server with TLS did not start");
}, 30_000);

afterAll(() => {
  server?.kill("SIGTERM");
  fs.rmSync(folder, { recursive: true, force: true });
});

/** PING through the app's client; on failure, the connection errors the client reported, which name the cause. */
async function pingWith(url: string, authority: string | undefined): Promise<string> {
  const client = rateLimitRedisClient(url, authority);
  const connectionErrors: string[] = [];
  client.on("error", (error: Error) => connectionErrors.push(error.message));
  try {
    await untilReady(client);
    return await client.ping();
  } catch (error) {
    // The handshake's own error arrives as an event, possibly just after the failed command.
    await new Promise((resolve) => setTimeout(resolve, 200));
    return [error instanceof Error ? error.message : String(error), ...connectionErrors].join("; ");
  } finally {
    client.disconnect();
  }
}

describe("the limiter's Redis over TLS", () => {
  it("connects over rediss:// with the deployment's CA and counts limits there", async () => {
    const url = `rediss://:${password}@127.0.0.1:${port}`;
    expect(await pingWith(url, path.join(folder, "ca.pem"))).toBe("PONG");
    const configuration = parseEnvironment({
      NODE_ENV: "test",
      AUTH_SECRET: "x".repeat(48),
      REDIS_URL: `rediss://:${password}@localhost:${port}`,
      REDIS_TLS_CA_FILE: path.join(folder, "ca.pem"),
      RATE_LIMIT_PREFIX: `bank-test-tls:${crypto.randomBytes(4).toString("hex")}`,
    });
    const decisions = [];
    for (let attempt = 0; attempt < 11; attempt += 1) {
      decisions.push((await consumeRateLimit(configuration, "signIn", `ip:192.0.2.${attempt}-tls`)).kind === "allowed");
    }
    expect(decisions.every(Boolean)).toBe(true);
    const sameClient = [];
    for (let attempt = 0; attempt < 11; attempt += 1) sameClient.push((await consumeRateLimit(configuration, "signIn", "ip:192.0.2.200")).kind === "allowed");
    expect(sameClient.filter((allowed) => !allowed)).toHaveLength(1);
  });

  it("refuses a server whose certificate comes from another CA", async () => {
    const answer = await pingWith(`rediss://:${password}@127.0.0.1:${port}`, path.join(folder, "other-ca.pem"));
    expect(answer).toMatch(/unable to verify the first certificate|self.signed|unable to get local issuer/i);
  });

  it("refuses a server whose certificate does not name the host connected to", async () => {
    // The certificate names localhost and 127.0.0.1; 127.0.0.2 reaches the same server under another name.
    const answer = await pingWith(`rediss://:${password}@127.0.0.2:${port}`, path.join(folder, "ca.pem"));
    expect(answer).toMatch(/not in the cert's list|altnames/i);
  });

  it("gets no answer in plaintext: the server has no plaintext port", async () => {
    const answer = await pingWith(`redis://:${password}@127.0.0.1:${port}`, undefined);
    expect(answer).not.toBe("PONG");
    expect(answer).toMatch(/closed|ECONNRESET|timeout|writeable/i);
  });
});
