/**
 * A real SMTP server for tests: aiosmtpd (Debian package python3-aiosmtpd, which `./run.sh test` installs)
 * started as a child process on 127.0.0.1. Its default handler prints every message it receives to stdout,
 * between fixed marker lines; this helper collects and parses them.
 *
 * There is no fallback and no skip: a machine without aiosmtpd fails the tests that need it, with a sentence
 * saying how to install it.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import crypto from "node:crypto";
import net from "node:net";

export interface ReceivedEmail {
  /** Header names in lower case, values as printed (our subjects and addresses are plain ASCII). */
  headers: Map<string, string>;
  /** The body with its Content-Transfer-Encoding undone. */
  text: string;
}

export interface TestSmtpServer {
  readonly port: number;
  readonly url: string;
  /** Every message received since the start or the last `clear()`. */
  received(): ReceivedEmail[];
  clear(): void;
  /** Waits until at least `count` messages have arrived (since the last clear) and returns them all. */
  waitForMessages(count: number, timeoutMilliseconds?: number): Promise<ReceivedEmail[]>;
  stop(): Promise<void>;
}

const messageStart = "---------- MESSAGE FOLLOWS ----------\n";
const messageEnd = "------------ END MESSAGE ------------\n";

/**
 * The Python that can import aiosmtpd. Debian's package installs it for /usr/bin/python3 only, and a
 * developer's PATH may put another Python (pyenv, a virtualenv) first.
 */
function pythonWithAiosmtpd(): string {
  for (const candidate of ["/usr/bin/python3", "python3"]) {
    const probe = spawnSync(candidate, ["-c", "import aiosmtpd"], { stdio: "ignore" });
    if (probe.status === 0) return candidate;
  }
  throw new Error(
    "aiosmtpd is not importable by /usr/bin/python3 or python3: run ./run.sh test (it installs the Debian " +
      "package python3-aiosmtpd as root) or apt-get install python3-aiosmtpd",
  );
}

/** A port below 32768 (STACK-NOTES trap 11) that nothing listens on at the moment of asking. */
export async function unusedPort(): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt += 1) {
    const port = crypto.randomInt(20_000, 32_000);
    const free = await new Promise<boolean>((resolve) => {
      const probe = net.createServer();
      probe.once("error", () => resolve(false));
      probe.listen(port, "127.0.0.1", () => probe.close(() => resolve(true)));
    });
    if (free) return port;
  }
  throw new Error("found no free port between 20000 and 32000");
}

function acceptsConnections(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: "127.0.0.1", port });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

function decodeQuotedPrintable(body: string): string {
  const bytes = body
    .replace(/=\r?\n/g, "")
    .replace(/=([0-9A-Fa-f]{2})/g, (_match, hex: string) => String.fromCharCode(Number.parseInt(hex, 16)));
  return Buffer.from(bytes, "latin1").toString("utf8");
}

function parseMessage(printed: string): ReceivedEmail {
  const separator = printed.indexOf("\n\n");
  const headerBlock = separator === -1 ? printed : printed.slice(0, separator);
  const body = separator === -1 ? "" : printed.slice(separator + 2);
  const headers = new Map<string, string>();
  let lastName: string | undefined;
  for (const line of headerBlock.split("\n")) {
    if (/^\s/.test(line) && lastName) {
      headers.set(lastName, `${headers.get(lastName) ?? ""} ${line.trim()}`);
      continue;
    }
    const colon = line.indexOf(":");
    if (colon <= 0) continue;
    lastName = line.slice(0, colon).trim().toLowerCase();
    headers.set(lastName, line.slice(colon + 1).trim());
  }
  const encoding = headers.get("content-transfer-encoding")?.toLowerCase();
  const text =
    encoding === "quoted-printable"
      ? decodeQuotedPrintable(body)
      : encoding === "base64"
        ? Buffer.from(body.replace(/\s+/g, ""), "base64").toString("utf8")
        : body;
  return { headers, text: text.replace(/\n$/, "") };
}

async function startOnce(python: string, port: number): Promise<TestSmtpServer | undefined> {
  // -u: unbuffered stdout, so a message is readable as soon as the server has printed it.
  const child: ChildProcess = spawn(python, ["-u", "-m", "aiosmtpd", "-n", "-l", `127.0.0.1:${port}`], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  let errorOutput = "";
  let messages: ReceivedEmail[] = [];
  let exited = false;
  child.stdout?.setEncoding("utf8");
  child.stderr?.setEncoding("utf8");
  child.stdout?.on("data", (chunk: string) => {
    output += chunk;
    for (;;) {
      const start = output.indexOf(messageStart);
      const end = output.indexOf(messageEnd, start + messageStart.length);
      if (start === -1 || end === -1) break;
      messages.push(parseMessage(output.slice(start + messageStart.length, end)));
      output = output.slice(end + messageEnd.length);
    }
  });
  child.stderr?.on("data", (chunk: string) => {
    errorOutput += chunk;
  });
  const exitPromise = new Promise<void>((resolve) => {
    child.once("exit", () => {
      exited = true;
      resolve();
    });
  });

  const deadline = Date.now() + 10_000;
  while (!(await acceptsConnections(port))) {
    if (exited) return undefined; // Most likely the port was taken in the meantime; the caller tries another.
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`aiosmtpd did not start listening on port ${port} within 10 s: ${errorOutput}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }

  return {
    port,
    url: `smtp://127.0.0.1:${port}`,
    received: () => [...messages],
    clear: () => {
      messages = [];
    },
    async waitForMessages(count, timeoutMilliseconds = 5_000) {
      const waitUntil = Date.now() + timeoutMilliseconds;
      while (messages.length < count) {
        if (Date.now() > waitUntil) {
          throw new Error(`expected ${count} messages at the SMTP server, got ${messages.length}: ${errorOutput}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      return [...messages];
    },
    async stop() {
      if (!exited) child.kill("SIGTERM");
      await exitPromise;
    },
  };
}

/** Starts aiosmtpd on a free port and waits until it accepts connections. */
export async function startTestSmtpServer(): Promise<TestSmtpServer> {
  const python = pythonWithAiosmtpd();
  for (let attempt = 0; attempt < 5; attempt += 1) {
    const server = await startOnce(python, await unusedPort());
    if (server) return server;
  }
  throw new Error("aiosmtpd exited before listening, five times in a row");
}
