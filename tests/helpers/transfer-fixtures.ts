import crypto from "node:crypto";
import { eq } from "drizzle-orm";
import { generate } from "otplib";
import { database } from "@/db/client";
import { accounts, payees, sessions, users } from "@/db/schema";
import type { DemoSignIn } from "@/db/seed-demo-data";
import type { CustomerActor } from "@/lib/auth/actor";
import { blindIndex, encryptField, normaliseEmail } from "@/lib/crypto";
import type { TransferringCustomer } from "@/lib/ledger/post-transfer";
import { payeeNameField } from "@/lib/payees/list-my-payees";

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

export async function demoCustomer(signIn: DemoSignIn): Promise<DemoCustomer> {
  const index = await blindIndex("email", normaliseEmail(signIn.email));
  const [user] = await database().select({ id: users.id }).from(users).where(eq(users.emailBlindIndex, index));
  if (!user) throw new Error(`no user for ${signIn.email}`);
  const owned = await database().select({ id: accounts.id, kind: accounts.kind }).from(accounts).where(eq(accounts.ownerId, user.id));
  const checking = owned.find((account) => account.kind === "checking");
  const savings = owned.find((account) => account.kind === "savings");
  if (!checking || !savings) throw new Error(`demo accounts of ${signIn.email} are missing`);
  return { signIn, userId: user.id, checkingId: checking.id, savingsId: savings.id };
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

/** Saves a payee for `owner` (by default three days ago, so that the new-payee confirmation does not apply). */
export async function savePayee(
  owner: CustomerActor,
  accountId: string,
  name: string,
  createdAt = new Date(Date.now() - 3 * 86_400_000),
): Promise<string> {
  const id = crypto.randomUUID();
  await database()
    .insert(payees)
    .values({ id, ownerId: owner.userId, accountId, nameCiphertext: await encryptField(name, payeeNameField(id)), matchResult: "exact_match", createdAt });
  return id;
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
