import { afterEach, describe, expect, it, vi } from "vitest";
import { checkReadiness } from "@/lib/health/readiness";
import {
  beginShutdown,
  isShuttingDown,
  registerShutdownHook,
  registeredShutdownHookNames,
  resetShutdownHooksForTests,
  runShutdownHooks,
  type ShutdownHookOutcome,
} from "@/lib/shutdown-hooks";

const sleep = (milliseconds: number) => new Promise((resolve) => setTimeout(resolve, milliseconds));

afterEach(() => {
  resetShutdownHooksForTests();
});

describe("shutdown hooks", () => {
  it("stops the background work before any connection closes, even when it was registered later", async () => {
    const events: string[] = [];
    registerShutdownHook("database pool", "close-connections", async () => {
      events.push("database closing");
      await sleep(5);
      events.push("database closed");
    });
    registerShutdownHook("audit sealer", "stop-background-work", async () => {
      events.push("sealer stopping");
      // A batch in progress is allowed to finish before the next stage starts.
      await sleep(30);
      events.push("sealer stopped");
    });
    registerShutdownHook("rate-limit Redis 127.0.0.1:6379", "close-connections", async () => {
      events.push("redis closed");
    });
    expect(registeredShutdownHookNames()).toEqual(["audit sealer", "database pool", "rate-limit Redis 127.0.0.1:6379"]);

    const outcomes = await runShutdownHooks({ hookTimeoutMilliseconds: 1_000 });

    expect(events.slice(0, 2)).toEqual(["sealer stopping", "sealer stopped"]);
    expect(events.slice(2).sort()).toEqual(["database closed", "database closing", "redis closed"]);
    expect(outcomes.map((outcome) => [outcome.name, outcome.outcome])).toEqual([
      ["audit sealer", "closed"],
      ["rate-limit Redis 127.0.0.1:6379", "closed"],
      ["database pool", "closed"],
    ]);
  });

  it("runs every other hook when one fails, and reports the failure with its error", async () => {
    const closed: string[] = [];
    const failure = new Error("QUIT refused");
    registerShutdownHook("email delivery poller", "stop-background-work", async () => {
      throw new Error("poller would not stop");
    });
    registerShutdownHook("rate-limit Redis", "close-connections", () => Promise.reject(failure));
    registerShutdownHook("database pool", "close-connections", async () => {
      closed.push("database pool");
    });
    // A hook that throws before it returns a promise is a failure like any other, not a crash of the run.
    registerShutdownHook("throws at once", "close-connections", () => {
      throw new Error("synchronous");
    });

    const reported: ShutdownHookOutcome[] = [];
    const outcomes = await runShutdownHooks({ hookTimeoutMilliseconds: 1_000, onOutcome: (outcome) => reported.push(outcome) });

    expect(closed).toEqual(["database pool"]);
    expect(reported).toEqual(outcomes);
    const byName = new Map(outcomes.map((outcome) => [outcome.name, outcome]));
    expect(byName.get("email delivery poller")?.outcome).toBe("failed");
    expect(byName.get("database pool")?.outcome).toBe("closed");
    expect(byName.get("throws at once")?.outcome).toBe("failed");
    const redis = byName.get("rate-limit Redis");
    expect(redis?.outcome === "failed" ? redis.error : undefined).toBe(failure);
  });

  it("bounds each hook: one that hangs is reported as timed out and the next stage still runs", async () => {
    let databaseClosed = false;
    registerShutdownHook("stuck timer", "stop-background-work", () => new Promise<void>(() => undefined));
    registerShutdownHook("database pool", "close-connections", async () => {
      databaseClosed = true;
    });

    const started = Date.now();
    const outcomes = await runShutdownHooks({ hookTimeoutMilliseconds: 50 });

    expect(Date.now() - started).toBeLessThan(1_000);
    expect(outcomes.map((outcome) => [outcome.name, outcome.outcome])).toEqual([
      ["stuck timer", "timed-out"],
      ["database pool", "closed"],
    ]);
    expect(databaseClosed).toBe(true);
  });

  it("runs each hook once, and keeps only the newest hook of a name", async () => {
    const calls: string[] = [];
    registerShutdownHook("database pool", "close-connections", async () => {
      calls.push("first pool");
    });
    registerShutdownHook("database pool", "close-connections", async () => {
      calls.push("reopened pool");
    });
    await runShutdownHooks({ hookTimeoutMilliseconds: 1_000 });
    await runShutdownHooks({ hookTimeoutMilliseconds: 1_000 });
    expect(calls).toEqual(["reopened pool"]);
  });

  it("lets a resource closed by its owner remove its hook, without removing a newer one of the same name", async () => {
    const calls: string[] = [];
    const removeFirst = registerShutdownHook("database pool", "close-connections", async () => {
      calls.push("first");
    });
    removeFirst();
    expect(registeredShutdownHookNames()).toEqual([]);

    const removeSecond = registerShutdownHook("database pool", "close-connections", async () => {
      calls.push("second");
    });
    registerShutdownHook("database pool", "close-connections", async () => {
      calls.push("third");
    });
    removeSecond();
    await runShutdownHooks({ hookTimeoutMilliseconds: 1_000 });
    expect(calls).toEqual(["third"]);
  });

  it("closes what work still running in the first stage opened, in the second", async () => {
    const calls: string[] = [];
    registerShutdownHook("audit sealer", "stop-background-work", async () => {
      // The sealer's last run opened the database after the shutdown began.
      registerShutdownHook("database pool", "close-connections", async () => {
        calls.push("database pool");
      });
    });
    await runShutdownHooks({ hookTimeoutMilliseconds: 1_000 });
    expect(calls).toEqual(["database pool"]);
  });

  it("shares one registry between separate copies of the module, through globalThis", async () => {
    registerShutdownHook("from the first copy", "close-connections", async () => undefined);
    // A second module instance, as Next's bundle is next to server.ts's import.
    vi.resetModules();
    const secondCopy = await import("@/lib/shutdown-hooks");
    expect(secondCopy.registerShutdownHook).not.toBe(registerShutdownHook);
    expect(secondCopy.registeredShutdownHookNames()).toEqual(["from the first copy"]);
    secondCopy.beginShutdown();
    expect(isShuttingDown()).toBe(true);
  });

  it("makes readiness answer 503's reason, shutdown, once the shutdown has begun, without asking the parts", async () => {
    beginShutdown();
    expect(await checkReadiness()).toEqual({ ready: false, failing: ["shutdown"] });
  });
});
