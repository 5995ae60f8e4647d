/**
 * docker/compose.yaml's Redis, run for real without Docker: redis-server with the compose file's own arguments,
 * the secrets made by docker/secrets/generate.sh in a scratch folder instead of /run/secrets, and the TLS port
 * moved to a free one. It shows that the server has no plaintext listener, that a client checking the
 * certificate as the app does (the internal CA, the name `redis`) gets in with the ACL password, and that the
 * compose health check works against it. Needs redis-server and redis-cli built with TLS, and openssl.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import Redis from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../helpers/free-port";
import { parse as parseYaml } from "yaml";

const root = path.resolve(import.meta.dirname, "..", "..");

interface ComposeFile {
  services: { redis: { command: string[]; healthcheck: { test: string[] } } };
  secrets: Record<string, { file: string }>;
}
const compose = parseYaml(fs.readFileSync(path.join(root, "docker/compose.yaml"), "utf8")) as ComposeFile;

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "bank-compose-redis-"));
const secretsDirectory = path.join(scratch, "secrets");
/** Another deployment's secrets: its CA has signed nothing this server presents. */
const otherSecretsDirectory = path.join(scratch, "other");
/** Where the container would read /run/secrets/NAME: the file generate.sh wrote for that compose secret. */
const mapSecretPaths = (text: string): string =>
  text.replace(/\/run\/secrets\/([A-Za-z0-9_.-]+)/g, (_, secret: string) => {
    const file = compose.secrets[secret]?.file;
    if (file === undefined) throw new Error(`compose.yaml declares no secret ${secret}`);
    return path.join(secretsDirectory, path.basename(file));
  });
const secretFile = (secret: string): string => mapSecretPaths(`/run/secrets/${secret}`);

let server: ChildProcess | undefined;
let port = 0;
let serverOutput = "";

/** A client that checks the server as the app's rate limiter does: this CA only, and the name `redis`. */
function clientLikeTheApp(options: { servername?: string; certificateAuthority?: string } = {}): Redis {
  const client = new Redis({
    host: "127.0.0.1",
    port,
    username: "bank",
    password: fs.readFileSync(secretFile("redis_password"), "utf8").trim(),
    tls: {
      ca: fs.readFileSync(options.certificateAuthority ?? secretFile("internal_ca")),
      rejectUnauthorized: true,
      servername: options.servername ?? "redis",
    },
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    connectTimeout: 2_000,
  });
  return client;
}

/** The error a client gets while connecting, or "connected". */
async function connectionOutcome(client: Redis): Promise<string> {
  let lastError = "";
  client.on("error", (error: Error) => {
    lastError = error.message;
  });
  try {
    await client.connect();
    return "connected";
  } catch (error) {
    return lastError || (error instanceof Error ? error.message : String(error));
  } finally {
    client.disconnect();
  }
}

beforeAll(async () => {
  for (const directory of [secretsDirectory, otherSecretsDirectory]) {
    const generated = spawnSync("bash", [path.join(root, "docker/secrets/generate.sh"), directory], {
      env: { NODE_ENV: "test", PATH: process.env.PATH ?? "/usr/bin:/bin", SMTP_URL: "smtps://relay:secret@smtp.example:465" },
      encoding: "utf8",
    });
    expect(generated.status, generated.stderr).toBe(0);
  }

  port = await freePort();
  const [program = "", ...words] = compose.services.redis.command;
  const tlsPortIndex = words.indexOf("--tls-port");
  expect(tlsPortIndex).toBeGreaterThanOrEqual(0);
  const argumentsForHere = words.map((word, index) => (index === tlsPortIndex + 1 ? String(port) : mapSecretPaths(word)));
  server = spawn(program, argumentsForHere, { cwd: scratch, stdio: ["ignore", "pipe", "pipe"] });
  server.stdout?.on("data", (chunk: Buffer) => (serverOutput += chunk.toString()));
  server.stderr?.on("data", (chunk: Buffer) => (serverOutput += chunk.toString()));
  for (let attempt = 0; attempt < 50 && !serverOutput.includes("Ready to accept connections"); attempt += 1) {
    if (server.exitCode !== null) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  expect(serverOutput, "redis-server did not start with the compose arguments").toContain("Ready to accept connections");
});

afterAll(() => {
  server?.kill("SIGTERM");
  fs.rmSync(scratch, { recursive: true, force: true });
});

describe("docker/compose.yaml's Redis, run with its own arguments", () => {
  it("listens on the TLS port only, and answers nothing to a plaintext PING there", async () => {
    const answer = await new Promise<string>((resolve) => {
      let received = "";
      const socket = net.connect(port, "127.0.0.1", () => socket.write("PING\r\n"));
      socket.on("data", (chunk) => (received += chunk.toString("latin1")));
      socket.on("error", () => resolve(received));
      socket.on("close", () => resolve(received));
      socket.setTimeout(2_000, () => socket.destroy());
    });
    expect(answer).not.toMatch(/PONG|NOAUTH/);
  });

  it("lets a client in that checks the certificate against the internal CA and the name redis, with the ACL password", async () => {
    const client = clientLikeTheApp();
    client.on("error", () => undefined);
    try {
      await client.connect();
      expect(await client.ping()).toBe("PONG");
      // The ACL applies as before: the bank's user may run only the rate limiter's commands.
      await expect(client.call("KEYS", "*")).rejects.toThrow(/NOPERM/);
    } finally {
      client.disconnect();
    }
  });

  it("is refused by a client that expects another name or trusts another CA", async () => {
    expect(await connectionOutcome(clientLikeTheApp({ servername: "postgres" }))).toMatch(/does not match certificate's altnames/);
    expect(await connectionOutcome(clientLikeTheApp({ certificateAuthority: path.join(otherSecretsDirectory, "ca.pem") }))).toMatch(
      /self-signed certificate in certificate chain|unable to verify/,
    );
  });

  it("passes the compose health check, which fails against a server whose certificate the CA did not sign", () => {
    const [kind, command = ""] = compose.services.redis.healthcheck.test;
    expect(kind).toBe("CMD-SHELL");
    const here = mapSecretPaths(command).replace(/^redis-cli /, `redis-cli -p ${port} `);
    expect(spawnSync("sh", ["-c", here]).status).toBe(0);
    const withOtherCertificateAuthority = here.replace(secretFile("internal_ca"), path.join(otherSecretsDirectory, "ca.pem"));
    expect(withOtherCertificateAuthority).not.toBe(here);
    expect(spawnSync("sh", ["-c", withOtherCertificateAuthority]).status).not.toBe(0);
  });
});
