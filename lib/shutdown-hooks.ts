/**
 * What the process closes when it shuts down (server.ts, on SIGTERM or SIGINT): every resource that holds a
 * connection or a timer registers a named close function when it is created, and server.ts runs them once the
 * listeners are closed and the in-flight requests have finished.
 *
 * Not "server-only": server.ts imports this file directly, while the app's code reaches it through Next's
 * compiled bundles. Those are separate module instances in one process, so the registry lives on globalThis
 * under a registered symbol, where both copies find the same one (as lib/http/request-id.ts does).
 *
 * Hooks run in stages, one stage after the other, the hooks of a stage side by side: first the background work
 * stops (timers, and a run already going is allowed to finish), then the connections close. In that order no
 * timer can start a database query on a pool that is closing. Every hook is bounded and its failure does not
 * stop the others: a shutdown must end, and a Redis that does not answer QUIT is no reason to leave the
 * database pool open.
 */

export type ShutdownStage = "stop-background-work" | "close-connections";

/** The stages in the order they run. */
export const shutdownStages: readonly ShutdownStage[] = ["stop-background-work", "close-connections"];

export type ShutdownHookOutcome =
  | { name: string; stage: ShutdownStage; outcome: "closed"; durationMilliseconds: number }
  | { name: string; stage: ShutdownStage; outcome: "failed"; durationMilliseconds: number; error: unknown }
  | { name: string; stage: ShutdownStage; outcome: "timed-out"; durationMilliseconds: number };

interface ShutdownRegistration {
  readonly name: string;
  readonly stage: ShutdownStage;
  readonly close: () => Promise<void>;
}

interface ShutdownState {
  /** By name, in registration order (a Map keeps it); a name registered again replaces the older hook. */
  readonly hooks: Map<string, ShutdownRegistration>;
  shuttingDown: boolean;
}

const stateKey = Symbol.for("bank.shutdownHooks");
const globalForShutdown = globalThis as typeof globalThis & { [stateKey]?: ShutdownState };

function shutdownState(): ShutdownState {
  globalForShutdown[stateKey] ??= { hooks: new Map(), shuttingDown: false };
  return globalForShutdown[stateKey];
}

/**
 * Registers `close` to run at shutdown under `name` (which names the resource in the shutdown log, so it must
 * hold no secret, e.g. no password from a URL). Registering a name again replaces the earlier hook: a resource
 * that is closed and opened again (the database in tests and scripts) stays one entry. Answers a function that
 * removes this registration, for a resource closed by its owner before shutdown; it leaves a newer one alone.
 */
export function registerShutdownHook(name: string, stage: ShutdownStage, close: () => Promise<void>): () => void {
  const registration: ShutdownRegistration = { name, stage, close };
  const { hooks } = shutdownState();
  // Deleted first so that a replacement moves to the end of the order, after what it may depend on.
  hooks.delete(name);
  hooks.set(name, registration);
  return () => {
    if (hooks.get(name) === registration) hooks.delete(name);
  };
}

/** Marks the process as shutting down (server.ts, on the signal), so that readiness answers "not ready". */
export function beginShutdown(): void {
  shutdownState().shuttingDown = true;
}

export function isShuttingDown(): boolean {
  return shutdownState().shuttingDown;
}

/** The names of the registered hooks, in the order they would run (for tests and diagnostics). */
export function registeredShutdownHookNames(): string[] {
  const registrations = [...shutdownState().hooks.values()];
  return shutdownStages.flatMap((stage) =>
    registrations.filter((registration) => registration.stage === stage).map((registration) => registration.name),
  );
}

async function runOne(
  registration: ShutdownRegistration,
  timeoutMilliseconds: number,
): Promise<ShutdownHookOutcome> {
  const { name, stage } = registration;
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<"timed-out">((resolve) => {
    timer = setTimeout(() => resolve("timed-out"), timeoutMilliseconds);
  });
  try {
    // A hook that throws synchronously is a failure like a rejected one, hence the call inside the async arrow.
    const result = await Promise.race([(async () => registration.close())().then(() => "closed" as const), timedOut]);
    return result === "closed"
      ? { name, stage, outcome: "closed", durationMilliseconds: elapsed() }
      : { name, stage, outcome: "timed-out", durationMilliseconds: elapsed() };
  } catch (error) {
    return { name, stage, outcome: "failed", durationMilliseconds: elapsed(), error };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Runs the registered hooks, stage by stage, each bounded by `hookTimeoutMilliseconds` (so the whole run takes
 * at most that times the number of stages). A hook that times out is left running and reported; the next stage
 * starts anyway. Each hook runs once: it is removed before it runs, and the hooks of a stage are read when that
 * stage starts, so a resource opened by work that was still finishing in an earlier stage is closed too.
 * `onOutcome` is called as each hook settles; the answer lists every outcome in the order they settled.
 */
export async function runShutdownHooks(options: {
  hookTimeoutMilliseconds: number;
  onOutcome?: (outcome: ShutdownHookOutcome) => void;
}): Promise<ShutdownHookOutcome[]> {
  const { hooks } = shutdownState();
  const outcomes: ShutdownHookOutcome[] = [];
  for (const stage of shutdownStages) {
    const registrations = [...hooks.values()].filter((registration) => registration.stage === stage);
    for (const registration of registrations) hooks.delete(registration.name);
    await Promise.all(
      registrations.map(async (registration) => {
        const outcome = await runOne(registration, options.hookTimeoutMilliseconds);
        outcomes.push(outcome);
        options.onOutcome?.(outcome);
      }),
    );
  }
  return outcomes;
}

/** Forgets every hook and the shutting-down mark (unit tests only: the registry is process-wide). */
export function resetShutdownHooksForTests(): void {
  const state = shutdownState();
  state.hooks.clear();
  state.shuttingDown = false;
}
