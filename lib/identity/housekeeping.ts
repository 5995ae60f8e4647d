import "server-only";
import { deleteExpiredRegistrations } from "@/lib/identity/register";
import { logger } from "@/lib/logger";

const housekeepingIntervalMilliseconds = 10 * 60 * 1000;
const globalForHousekeeping = globalThis as typeof globalThis & { bankIdentityHousekeeping?: NodeJS.Timeout };

/**
 * Deletes expired, never-verified registrations every ten minutes (and once shortly after start), so that the
 * PII of people who never proved their address is not kept. Started once per process by instrumentation.ts;
 * several processes doing it at once is harmless, the DELETE is idempotent.
 */
export function startIdentityHousekeeping(): void {
  if (globalForHousekeeping.bankIdentityHousekeeping) return;
  const run = () => {
    deleteExpiredRegistrations().then(
      (deleted) => {
        if (deleted > 0) logger.info({ deleted }, "expired registrations deleted");
      },
      (error: unknown) => logger.error({ err: error }, "deleting expired registrations failed"),
    );
  };
  setTimeout(run, 30_000).unref();
  globalForHousekeeping.bankIdentityHousekeeping = setInterval(run, housekeepingIntervalMilliseconds);
  globalForHousekeeping.bankIdentityHousekeeping.unref();
}
