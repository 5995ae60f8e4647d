import "server-only";
import { database } from "@/db/client";
import { measureAuditSealingLag } from "@/lib/audit/audit-sealing-lag";
import { sealAuditEvents, writeAuditCheckpointIfDue } from "@/lib/audit/seal-audit-events";
import { env } from "@/lib/env";
import { logger } from "@/lib/logger";
import { registerShutdownHook } from "@/lib/shutdown-hooks";

const globalForSealer = globalThis as typeof globalThis & { bankAuditSealer?: NodeJS.Timeout };

/**
 * Seals new audit events every AUDIT_SEAL_INTERVAL_SECONDS (default 2), signs a checkpoint when one is due and
 * publishes the sealing lag (lib/audit/audit-sealing-lag.ts) for the metrics.
 * Started once per process by instrumentation.ts. Every app instance may run one: the sealer's advisory lock
 * lets one of them work at a time and the others return at once ("busy"). A run never overlaps the previous
 * one in the same process. Failures are logged and retried on the next tick; writers are never affected, they
 * only wait a little longer for their events to be sealed.
 */
export function startAuditSealer(): void {
  if (globalForSealer.bankAuditSealer) return;
  const configuration = env().audit;
  if (configuration.sealIntervalSeconds === 0) return;
  // The run in progress, if any: a new tick does not start another, and shutdown waits for it.
  let running: Promise<void> | undefined;
  // Aborted at shutdown. A run that is only waiting for older transactions to end (up to several seconds, and
  // on a server-wide horizon: see seal-audit-events.ts) gives up at once, having sealed nothing, so that the
  // shutdown is not held up by other databases' transactions; a run that is sealing finishes.
  const stopping = new AbortController();
  const run = async () => {
    try {
      const db = database();
      const result = await sealAuditEvents(db, {
        // Waiting longer than a few ticks only delays the next attempt; a transaction that stays open that
        // long is worth a log line.
        waitTimeoutMilliseconds: Math.max(1_000, configuration.sealIntervalSeconds * 5_000),
        signal: stopping.signal,
      });
      // The checkpoint and the lag gauge are for the instances that go on running.
      if (stopping.signal.aborted) return;
      if (result.outcome === "waiting") {
        logger.warn("audit sealer: a long-running transaction is holding back sealing; will retry");
      }
      await writeAuditCheckpointIfDue(db, {
        everyEvents: configuration.checkpointEveryEvents,
        everySeconds: configuration.checkpointEverySeconds,
      });
    } catch (error) {
      logger.error({ err: error }, "audit sealer: sealing or checkpointing failed; will retry");
    }
    // Measured after every run, also a failed one (that is when the lag grows), and by every instance, also one
    // whose run found the sealer busy elsewhere: each instance's gauge then shows the same, global lag.
    if (stopping.signal.aborted) return;
    try {
      await measureAuditSealingLag(database());
    } catch (error) {
      logger.error({ err: error }, "audit sealer: measuring the sealing lag failed; will retry");
    }
  };
  const tick = () => {
    if (running) return;
    running = run().finally(() => {
      running = undefined;
    });
  };
  const timer = setInterval(tick, configuration.sealIntervalSeconds * 1000);
  timer.unref();
  globalForSealer.bankAuditSealer = timer;
  // At shutdown no new run starts, and a batch already being sealed is allowed to finish (the hook is bounded):
  // its transaction commits or, if the process is cut off first, rolls back whole, so nothing is half-sealed.
  registerShutdownHook("audit sealer", "stop-background-work", async () => {
    clearInterval(timer);
    stopping.abort();
    if (globalForSealer.bankAuditSealer === timer) globalForSealer.bankAuditSealer = undefined;
    await running;
  });
}
