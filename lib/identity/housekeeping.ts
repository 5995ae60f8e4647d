import "server-only";
import { deleteExpiredRegistrations } from "@/lib/identity/register";
import { logger } from "@/lib/logger";
import { registerShutdownHook } from "@/lib/shutdown-hooks";

const housekeepingIntervalMilliseconds = 10 * 60 * 1000;
const firstRunDelayMilliseconds = 30_000;
const globalForHousekeeping = globalThis as typeof globalThis & { bankIdentityHousekeeping?: NodeJS.Timeout };

/**
 * Deletes expired, never-verified registrations every ten minutes (and once shortly after start), so that the
 * PII of people who never proved their address is not kept. Started once per process by instrumentation.ts;
 * several processes doing it at once is harmless, the DELETE is idempotent.
 */
export function startIdentityHousekeeping(): void {
  if (globalForHousekeeping.bankIdentityHousekeeping) return;
  // The deletion in progress, if any, so that shutdown can let it finish before the database closes.
  let running: Promise<void> | undefined;
  const run = () => {
    if (running) return;
    running = deleteExpiredRegistrations()
      .then(
        (deleted) => {
          if (deleted > 0) logger.info({ deleted }, "expired registrations deleted");
        },
        (error: unknown) => logger.error({ err: error }, "deleting expired registrations failed"),
      )
      .finally(() => {
        running = undefined;
      });
  };
  const firstRun = setTimeout(run, firstRunDelayMilliseconds);
  firstRun.unref();
  const interval = setInterval(run, housekeepingIntervalMilliseconds);
  interval.unref();
  globalForHousekeeping.bankIdentityHousekeeping = interval;
  registerShutdownHook("identity housekeeping", "stop-background-work", async () => {
    clearTimeout(firstRun);
    clearInterval(interval);
    if (globalForHousekeeping.bankIdentityHousekeeping === interval) globalForHousekeeping.bankIdentityHousekeeping = undefined;
    await running;
  });
}
