/**
 * One source address per test client (STACK-NOTES trap 29), so that no test spends another's rate-limit
 * budget: the limits are the real ones (10 sign-ins per 15 minutes, 50 API calls per hour per address), and a
 * per-run Redis prefix keeps earlier runs' counters away. 127.0.0.1 is left to the Playwright fixtures.
 */
export const clientAddresses = {
  cspNonces: "127.0.1.1",
  cspReflectedBrowser: "127.0.1.2",
  cspSplicedBrowser: "127.0.1.3",
  headers: "127.0.1.10",
  headersSignIn: "127.0.1.11",
  cookiesBrowser: "127.0.2.1",
  csrfForger: "127.0.3.1",
  csrfVictim: "127.0.3.2",
  csrfSameOriginControl: "127.0.3.3",
  apiBudget: "127.0.4.1",
  apiBudgetSignIn: "127.0.4.2",
  apiBudgetNeighbour: "127.0.4.3",
  signInBudget: "127.0.4.10",
  signInBudgetNeighbour: "127.0.4.11",
  // The forwarding-header test exhausts the budget of this address and then pretends to be someone else.
  spoofExhausted: "127.0.0.50",
  spoofFresh: "127.0.0.51",
  redisOutage: "127.0.5.1",
  redisOutageRecovery: "127.0.5.2",
  bypassSignedOut: "127.0.6.1",
  bypassAlice: "127.0.6.2",
  bypassBob: "127.0.6.3",
  bypassKnownNumbers: "127.0.6.4",
  bypassAlternativePaths: "127.0.6.5",
  redirectSignedIn: "127.0.7.1",
  hygiene: "127.0.8.1",
  hygieneSignIn: "127.0.8.2",
  // The back office's authorization matrix: one address per role, each signing in once.
  adminMatrixSignedOut: "127.0.9.1",
  adminMatrixCustomer: "127.0.9.2",
  adminMatrixSupport: "127.0.9.3",
  adminMatrixAuditor: "127.0.9.4",
  adminMatrixAdmin: "127.0.9.5",
} as const;

/** Distinct addresses for tests that need a whole series of clients (one per variant). */
export function seriesAddress(series: 20 | 21 | 22, index: number): string {
  if (!Number.isInteger(index) || index < 1 || index > 250) throw new Error(`no address ${index} in a series`);
  return `127.0.${series}.${index}`;
}

const used = Object.values(clientAddresses);
if (new Set(used).size !== used.length) throw new Error("two tests share a client address");
