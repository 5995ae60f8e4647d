import crypto from "node:crypto";
import { eq } from "drizzle-orm";
import { generate } from "otplib";
import { database } from "@/db/client";
import { accounts, sessions, users } from "@/db/schema";
import type { DemoSignIn } from "@/db/seed-demo-data";
import { blindIndex, normaliseEmail } from "@/lib/crypto";
import type { TransferringCustomer } from "@/lib/ledger/post-transfer";
import { parseTransferRequest, type TransferRequest, type TransferRequestInput } from "@/lib/validation/transfer";

/**
 * Fixtures for tests of money movement on top of the demo seed: the demo customers as actors with a real
 * session row (a bound confirmation belongs to a session), their accounts, payees and authenticator codes.
 */

export type SessionCustomer = TransferringCustomer & { sessionId: string };

export interface DemoCustomer {
  signIn: DemoSignIn;
  userId: string;
  checkingId: string;
  savingsId: string;
}

/** The id of the seeded user with this email, found through the email's blind index as the bank finds it. */
export async function userIdFor(email: string): Promise<string> {
  const index = await blindIndex("email", normaliseEmail(email));
  const [user] = await database().select({ id: users.id }).from(users).where(eq(users.emailBlindIndex, index));
  if (!user) throw new Error(`no user for ${email}`);
  return user.id;
}

/** The id and number of the customer's seeded account of this kind (the demo seed opens one of each). */
export async function seededAccount(userId: string, kind: "checking" | "savings"): Promise<{ id: string; accountNumber: string }> {
  const rows = await database()
    .select({ id: accounts.id, accountNumber: accounts.accountNumber, kind: accounts.kind })
    .from(accounts)
    .where(eq(accounts.ownerId, userId));
  const row = rows.find((candidate) => candidate.kind === kind);
  if (!row) throw new Error(`no ${kind} account for user ${userId}`);
  return { id: row.id, accountNumber: row.accountNumber };
}

/** A demo customer with the ids of their seeded checking and savings accounts. */
export async function demoCustomer(signIn: DemoSignIn): Promise<DemoCustomer> {
  const userId = await userIdFor(signIn.email);
  const checking = await seededAccount(userId, "checking");
  const savings = await seededAccount(userId, "savings");
  return { signIn, userId, checkingId: checking.id, savingsId: savings.id };
}

/** A new server-side session for the customer, and the actor acting through it. */
export async function openSession(customer: DemoCustomer): Promise<SessionCustomer> {
  const sessionId = crypto.randomUUID();
  await database().insert(sessions).values({ id: sessionId, userId: customer.userId });
  return {
    kind: "customer",
    role: "customer",
    userId: customer.userId,
    sessionId,
    ipAddress: "198.51.100.61",
    userAgent: "transfer-test/1.0",
  };
}

/** A parsed transfer request with a fresh idempotency key and an empty memo unless the fields give them. */
export function transferRequest(fields: Omit<TransferRequestInput, "idempotencyKey"> & { idempotencyKey?: string }): TransferRequest {
  return parseTransferRequest({ idempotencyKey: crypto.randomUUID(), memo: "", ...fields });
}

/** The authenticator code `offsetSteps` 30-second steps away from now (the bank accepts -1, 0 and +1, each once). */
export async function authenticatorCode(customer: DemoCustomer, offsetSteps = 0): Promise<string> {
  return generate({ secret: customer.signIn.totpSecret, epoch: Math.floor(Date.now() / 1000) + offsetSteps * 30 });
}

export async function balancesOf(accountId: string): Promise<{ balanceMinor: bigint; availableMinor: bigint }> {
  const [row] = await database()
    .select({ balanceMinor: accounts.balanceMinor, availableMinor: accounts.availableMinor })
    .from(accounts)
    .where(eq(accounts.id, accountId));
  if (!row) throw new Error("missing account");
  return row;
}
