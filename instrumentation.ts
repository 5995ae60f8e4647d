/**
 * Next calls `register()` once when a server process starts (`next start`, server.ts, `next dev`). With
 * KEY_PROVIDER=pkcs11 it first unwraps the data keys from the token, so that no request's database transaction
 * waits for them (and, on the embedded PGlite, so that loading them never needs the connection that a
 * transaction holds). Then it starts the outbox poller, so that queued email goes out within seconds even
 * when nothing scheduled it, and retries happen on time, and the housekeeping that deletes expired,
 * never-verified registrations, and the audit sealer that links new audit events into the hash chain every
 * couple of seconds (lib/audit/seal-audit-events.ts).
 *
 * The import is dynamic and behind the runtime check so that the Edge bundle of this file never pulls in the
 * database drivers, nodemailer and pino, which cannot run there.
 */
export async function register(): Promise<void> {
  if (process.env.NEXT_RUNTIME !== "nodejs") return;
  if (process.env.KEY_PROVIDER === "pkcs11") {
    // The data keys are unwrapped once, before the first request (lib/crypto/pkcs11-provider.ts).
    const { preloadSharedPkcs11Provider } = await import("./lib/crypto/pkcs11-provider");
    await preloadSharedPkcs11Provider();
  }
  const { startEmailDeliveryPoller } = await import("./lib/mail/schedule-delivery");
  startEmailDeliveryPoller();
  const { startIdentityHousekeeping } = await import("./lib/identity/housekeeping");
  startIdentityHousekeeping();
  const { startAuditSealer } = await import("./lib/audit/audit-sealer-timer");
  startAuditSealer();
}
