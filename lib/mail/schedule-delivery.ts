import "server-only";
import { after } from "next/server";
import { logger } from "@/lib/logger";
import { deliverPendingEmails } from "@/lib/mail/deliver";
import { registerShutdownHook } from "@/lib/shutdown-hooks";

/**
 * When the outbox is delivered: right after a request that queued mail (scheduleEmailDelivery), and every
 * couple of seconds by a poller that instrumentation.ts starts once per server process, which also picks up
 * retries and anything a crashed process left behind.
 *
 * The state lives on globalThis, not in module variables: Next bundles instrumentation.ts and the app's routes
 * separately, so this module can be loaded twice in one process, and `next dev` reloads it on every change.
 * One process-wide state keeps one poller and lets a request's run and the poller's run coalesce. Runs that
 * did overlap (two processes, or two bundles) would still be safe: rows are claimed with SKIP LOCKED.
 */
interface DeliveryState {
  running: Promise<DeliveryRunOutcome> | undefined;
  runAgain: boolean;
  stopPoller: (() => void) | undefined;
}

export type DeliveryRunOutcome = "succeeded" | "failed";

const globalForDelivery = globalThis as typeof globalThis & { bankEmailDelivery?: DeliveryState };

function deliveryState(): DeliveryState {
  globalForDelivery.bankEmailDelivery ??= { running: undefined, runAgain: false, stopPoller: undefined };
  return globalForDelivery.bankEmailDelivery;
}

const pollIntervalMilliseconds = 2_000;
// While the database is unreachable the poller waits longer and longer, up to this, instead of logging the
// same failure every two seconds.
const longestPollIntervalMilliseconds = 60_000;

/**
 * Delivers what is due now. If a run is already going, asks it to go round once more (mail queued during a
 * run is then not left for the next poll) and returns that run. Never rejects: failures are logged.
 */
export function runEmailDelivery(): Promise<DeliveryRunOutcome> {
  const state = deliveryState();
  if (state.running) {
    state.runAgain = true;
    return state.running;
  }
  const run = (async (): Promise<DeliveryRunOutcome> => {
    let outcome: DeliveryRunOutcome = "succeeded";
    do {
      state.runAgain = false;
      try {
        await deliverPendingEmails();
      } catch (error) {
        outcome = "failed";
        logger.error({ err: error }, "email delivery run failed");
      }
    } while (state.runAgain && outcome === "succeeded");
    return outcome;
  })();
  state.running = run;
  // Cleared only once the run has settled, so that a call arriving meanwhile joins it instead of starting one.
  void run.finally(() => {
    if (state.running === run) state.running = undefined;
  });
  return run;
}

/**
 * Sends queued mail soon, without making the caller wait. Call it after the transaction that queued mail has
 * committed. Inside a request it runs after the response has been sent (`after()`); elsewhere (scripts,
 * tests) it starts at once. It never throws, so it cannot turn a completed change into a failed request.
 */
export function scheduleEmailDelivery(): void {
  try {
    after(async () => {
      await runEmailDelivery();
    });
  } catch (error) {
    // after() throws when there is no request to attach to. The poller would deliver within seconds anyway;
    // starting now only makes it sooner.
    logger.debug({ err: error }, "scheduleEmailDelivery outside a request: delivering now");
    void runEmailDelivery();
  }
}

/**
 * Starts the background poller of this process, once: later calls return the running poller's stop function.
 * Runs never overlap (the next is scheduled when one ends) and the timer does not keep the process alive.
 */
export function startEmailDeliveryPoller(intervalMilliseconds: number = pollIntervalMilliseconds): () => void {
  const state = deliveryState();
  if (state.stopPoller) return state.stopPoller;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let delayMilliseconds = intervalMilliseconds;

  const scheduleNext = () => {
    if (stopped) return;
    timer = setTimeout(() => {
      void runEmailDelivery().then((outcome) => {
        delayMilliseconds =
          outcome === "succeeded" ? intervalMilliseconds : Math.min(delayMilliseconds * 2, longestPollIntervalMilliseconds);
        scheduleNext();
      });
    }, delayMilliseconds);
    timer.unref();
  };

  const stop = () => {
    stopped = true;
    if (timer) clearTimeout(timer);
    if (state.stopPoller === stop) state.stopPoller = undefined;
  };
  state.stopPoller = stop;
  scheduleNext();
  // At shutdown the poller stops and a delivery run already going is allowed to finish (the hook is bounded).
  // A run cut off by the exit is safe too: its claimed rows are picked up again when their lease runs out
  // (delivery is at least once, lib/mail/deliver.ts), so the worst case is a message sent twice.
  registerShutdownHook("email delivery poller", "stop-background-work", async () => {
    stop();
    await state.running;
  });
  logger.info({ intervalMilliseconds }, "email delivery poller started");
  return stop;
}
