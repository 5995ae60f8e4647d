import { type ChildProcess, spawn } from "node:child_process";
import net from "node:net";

/** True when nothing listens on 127.0.0.1:port. */
export function isPortFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: "127.0.0.1", port });
    socket.once("connect", () => {
      socket.destroy();
      resolve(false);
    });
    socket.once("error", () => resolve(true));
  });
}

/** The first port of `candidates` on which nothing listens (all below 32768, STACK-NOTES trap 11). */
export async function firstFreePort(candidates: number[]): Promise<number> {
  for (const port of candidates) if (await isPortFree(port)) return port;
  throw new Error(`none of the ports ${candidates.join(", ")} is free`);
}

export async function waitFor(what: string, check: () => Promise<boolean>, timeoutMilliseconds: number, intervalMilliseconds = 100): Promise<number> {
  const started = performance.now();
  for (;;) {
    if (await check().catch(() => false)) return performance.now() - started;
    if (performance.now() - started > timeoutMilliseconds) throw new Error(`${what} did not happen within ${timeoutMilliseconds} ms`);
    await new Promise((resolve) => setTimeout(resolve, intervalMilliseconds));
  }
}

/** Sends PING to a Redis and reports whether it answered PONG. */
export function redisAnswers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: "127.0.0.1", port });
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(false);
    }, 500);
    socket.once("connect", () => socket.write("PING\r\n"));
    socket.once("data", (data) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(data.toString().startsWith("+PONG"));
    });
    socket.once("error", () => {
      clearTimeout(timer);
      resolve(false);
    });
  });
}

export interface ManagedProcess {
  child: ChildProcess;
  /** The last few kilobytes the process printed, for a failure message. */
  output(): string;
  exited: Promise<void>;
  /** SIGTERM to the whole process group, SIGKILL if it has not ended within the grace period. */
  stop(graceMilliseconds?: number): Promise<void>;
}

/** Starts a command in its own process group, so that stopping it also stops what it started. */
export function startProcess(command: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): ManagedProcess {
  const child = spawn(command, args, { cwd: options.cwd, env: options.env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  const keep = (chunk: Buffer): void => {
    output = (output + chunk.toString()).slice(-8_192);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once("exit", () => resolve());
  });
  const signalGroup = (signal: NodeJS.Signals): void => {
    if (child.pid === undefined) return;
    try {
      process.kill(-child.pid, signal);
    } catch {
      // The group has already gone.
    }
  };
  const groupAlive = (): boolean => {
    if (child.pid === undefined) return false;
    try {
      process.kill(-child.pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  return {
    child,
    output: () => output,
    exited,
    async stop(graceMilliseconds = 15_000) {
      signalGroup("SIGTERM");
      const timer = setTimeout(() => signalGroup("SIGKILL"), graceMilliseconds);
      await exited;
      // The leader may end before the processes it started (run.sh waits for its server, but not for ever).
      await waitFor("the process group to end", async () => !groupAlive(), graceMilliseconds + 5_000).catch(() => signalGroup("SIGKILL"));
      clearTimeout(timer);
    },
  };
}
