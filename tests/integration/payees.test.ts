import crypto from "node:crypto";
import { and, eq } from "drizzle-orm";
import { generate } from "otplib";
import { beforeAll, describe, expect, it } from "vitest";
import { database, databaseHandle } from "@/db/client";
import { applyMigrations } from "@/db/migrations";
import { accounts, auditEvents, payees, sessions, users } from "@/db/schema";
import { accountNumberFromDigits } from "@/lib/accounts/account-number";
import { bankCurrency } from "@/lib/accounts/bank-currency";
import type { CustomerActor, SessionActor } from "@/lib/auth/actor";
import { confirmStepUp } from "@/lib/auth/step-up";
import { stepUpOperationHash } from "@/lib/auth/step-up-operations";
import { generateTotpSecret, totpSecretField } from "@/lib/auth/totp";
import { blindIndex, decryptField, encryptField, normaliseEmail } from "@/lib/crypto";
import { BankError } from "@/lib/errors";
import { ensureSystemAccounts } from "@/lib/ledger/system-accounts";
import { listMyPayees, payeeNameField } from "@/lib/payees/list-my-payees";
import { lookUpPayee, removePayee, savePayee } from "@/lib/payees/manage-payees";
import { compareNames } from "@/lib/payees/name-match";
import { useIntegrationEnvironment } from "../helpers/integration-environment";

process.env.PAYEE_LOOKUPS_PER_DAY = "20";

useIntegrationEnvironment();

const context = { ipAddress: "198.51.100.61", userAgent: "payees-test/1.0" };

beforeAll(async () => {
  await applyMigrations(databaseHandle());
  await ensureSystemAccounts(database());
});

type Customer = SessionActor & CustomerActor & { secret: string; accountNumber: string; accountId: string };

function randomAccountNumber(): string {
  return accountNumberFromDigits(String(crypto.randomInt(100_000_000, 999_999_999)));
}

async function createCustomer(legalName: string): Promise<Customer> {
  const userId = crypto.randomUUID();
  const email = normaliseEmail(`payee-${crypto.randomBytes(4).toString("hex")}@example.com`);
  const secret = generateTotpSecret();
  await database()
    .insert(users)
    .values({
      id: userId,
      role: "customer",
      emailCiphertext: await encryptField(email, { table: "users", column: "email", rowId: userId }),
      emailBlindIndex: await blindIndex("email", email),
      legalNameCiphertext: await encryptField(legalName, { table: "users", column: "legal_name", rowId: userId }),
      passwordHash: "not-used-in-this-test",
      emailVerifiedAt: new Date(),
      termsAcceptedAt: new Date(),
      totpSecretCiphertext: await encryptField(secret, totpSecretField(userId), "mfa"),
      totpEnrolledAt: new Date(),
    });
  const accountId = crypto.randomUUID();
  const accountNumber = randomAccountNumber();
  await database().insert(accounts).values({
    id: accountId,
    ownerId: userId,
    ownerRole: "customer",
    kind: "checking",
    accountNumber,
    currency: bankCurrency,
    nickname: "Everyday",
  });
  const sessionId = crypto.randomUUID();
  await database().insert(sessions).values({ id: sessionId, userId });
  return { kind: "customer", userId, role: "customer", sessionId, ...context, secret, accountNumber, accountId };
}

/**
 * The authenticator's code `offsetSteps` steps from now. Codes are replay-protected (each must be of a later
 * step than the last one used), and the verifier accepts one step of drift either way, so a test confirming
 * three times uses the steps -1, 0 and +1 in that order.
 */
async function codeFor(customer: Customer, offsetSteps = 0): Promise<string> {
  return generate({ secret: customer.secret, epoch: Math.floor(Date.now() / 1000) + offsetSteps * 30 });
}

async function expectBankError(promise: Promise<unknown>, code: string): Promise<BankError> {
  const error = await promise.then(
    () => null,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(BankError);
  expect((error as BankError).code).toBe(code);
  return error as BankError;
}

describe("name comparison", () => {
  it.each([
    ["Bob Brennan", "Bob Brennan", "exact_match"],
    ["  mr. BOB   brennan ", "Bob Brennan", "exact_match"],
    ["José O'Neil", "Jose O Neil", "exact_match"],
    ["Bob Brenan", "Bob Brennan", "close_match"],
    ["B Brennan", "Bob Brennan", "close_match"],
    ["Brennan Bob", "Bob Brennan", "close_match"],
    ["Alice Atkinson", "Bob Brennan", "no_match"],
    ["Robert Smith", "Bob Brennan", "no_match"],
  ] as const)("%s against %s is %s", (typed, actual, expected) => {
    expect(compareNames(typed, actual)).toBe(expected);
  });
});

describe("confirmation of payee lookups", () => {
  it("answers exact, close (with the holder's name) and no match, and audits each with the result only", async () => {
    const caller = await createCustomer("Carol Caller");
    const holder = await createCustomer("Bob Brennan");
    await expect(lookUpPayee(caller, { accountNumber: holder.accountNumber, name: "bob brennan" })).resolves.toEqual({
      result: "exact_match",
    });
    await expect(lookUpPayee(caller, { accountNumber: holder.accountNumber, name: "Bob Brenan" })).resolves.toEqual({
      result: "close_match",
      accountHolderName: "Bob Brennan",
    });
    await expect(lookUpPayee(caller, { accountNumber: holder.accountNumber, name: "Dora Different" })).resolves.toEqual({
      result: "no_match",
    });
    const events = await database()
      .select({ action: auditEvents.action, targetId: auditEvents.targetId, details: auditEvents.details })
      .from(auditEvents)
      .where(and(eq(auditEvents.actorId, caller.userId), eq(auditEvents.action, "payee.confirmation_lookup")));
    expect(events.map((event) => event.details)).toEqual([
      { result: "exact_match" },
      { result: "close_match" },
      { result: "no_match" },
    ]);
    expect(events.every((event) => event.targetId === holder.accountId)).toBe(true);
  });

  it("answers no_match for an unknown number, the caller's own account and a system account, and refuses bad input", async () => {
    const caller = await createCustomer("Carol Caller");
    let unknown = randomAccountNumber();
    while ((await database().select().from(accounts).where(eq(accounts.accountNumber, unknown))).length > 0) unknown = randomAccountNumber();
    await expect(lookUpPayee(caller, { accountNumber: unknown, name: "Anyone" })).resolves.toEqual({ result: "no_match" });
    await expect(lookUpPayee(caller, { accountNumber: caller.accountNumber, name: "Carol Caller" })).resolves.toEqual({
      result: "no_match",
    });
    const [system] = await database().select({ number: accounts.accountNumber }).from(accounts).where(eq(accounts.kind, "system")).limit(1);
    if (!system) throw new Error("no system account");
    await expect(lookUpPayee(caller, { accountNumber: system.number, name: "Harbour Bank" })).resolves.toEqual({
      result: "no_match",
    });
    // A wrong check digit is caught before any lookup.
    const wrongCheckDigit = `${caller.accountNumber.slice(0, 9)}${(Number(caller.accountNumber[9]) + 1) % 10}`;
    const invalid = await expectBankError(lookUpPayee(caller, { accountNumber: wrongCheckDigit, name: "Carol" }), "invalid_input");
    expect(invalid.fieldErrors?.accountNumber).toBeDefined();
  });

  it("refuses the 21st lookup of the day with rate_limited", async () => {
    const caller = await createCustomer("Limit Tester");
    const holder = await createCustomer("Bob Brennan");
    for (let attempt = 0; attempt < 20; attempt += 1) {
      await expect(lookUpPayee(caller, { accountNumber: holder.accountNumber, name: "Bob Brennan" })).resolves.toEqual({
        result: "exact_match",
      });
    }
    await expectBankError(lookUpPayee(caller, { accountNumber: holder.accountNumber, name: "Bob Brennan" }), "rate_limited");
    // The limit is per customer: someone else can still look up.
    const other = await createCustomer("Other Person");
    await expect(lookUpPayee(other, { accountNumber: holder.accountNumber, name: "Bob Brennan" })).resolves.toEqual({
      result: "exact_match",
    });
  });
});

describe("saving and removing payees", () => {
  it("needs a step-up bound to the details, then saves with the server's own match result", async () => {
    const caller = await createCustomer("Carol Caller");
    const holder = await createCustomer("Bob Brennan");
    const input = { accountNumber: holder.accountNumber, name: "Bob Brenan" };
    await expectBankError(savePayee(caller, input), "step_up_required");

    // A confirmation for other details does not save these.
    await confirmStepUp(caller, await codeFor(caller, -1), stepUpOperationHash("save_payee", caller, { ...input, name: "Bob Brennan" }));
    await expectBankError(savePayee(caller, input), "step_up_required");

    await confirmStepUp(caller, await codeFor(caller, 0), stepUpOperationHash("save_payee", caller, input));
    const saved = await savePayee(caller, input);
    expect(saved).toMatchObject({ name: "Bob Brenan", accountNumber: holder.accountNumber, matchResult: "close_match" });

    const [row] = await database().select().from(payees).where(eq(payees.id, saved.id));
    if (!row) throw new Error("payee not stored");
    expect(row.accountId).toBe(holder.accountId);
    expect(row.nameCiphertext).not.toContain("Brenan");
    expect(await decryptField(row.nameCiphertext, payeeNameField(saved.id))).toBe("Bob Brenan");
    const added = await database().select().from(auditEvents).where(and(eq(auditEvents.action, "payee.added"), eq(auditEvents.targetId, saved.id)));
    expect(added).toHaveLength(1);
    expect(added[0]?.details).toEqual({ matchResult: "close_match" });

    expect((await listMyPayees(caller)).map((payee) => payee.id)).toEqual([saved.id]);
    // Nobody else sees or removes it.
    expect(await listMyPayees(holder)).toEqual([]);
    await expectBankError(removePayee(holder, saved.id), "not_found");
    await expectBankError(removePayee(caller, crypto.randomUUID()), "not_found");

    // A second live payee for the same account is refused with a field error, even after a fresh step-up.
    await confirmStepUp(caller, await codeFor(caller, 1), stepUpOperationHash("save_payee", caller, input));
    const duplicate = await expectBankError(savePayee(caller, input), "invalid_input");
    expect(duplicate.fieldErrors?.accountNumber?.[0]).toMatch(/already have a payee/);

    await removePayee(caller, saved.id);
    expect(await listMyPayees(caller)).toEqual([]);
    await expectBankError(removePayee(caller, saved.id), "not_found");
    const removed = await database().select().from(auditEvents).where(and(eq(auditEvents.action, "payee.removed"), eq(auditEvents.targetId, saved.id)));
    expect(removed).toHaveLength(1);
  });

  it("refuses to save the caller's own account even with a confirmation", async () => {
    const caller = await createCustomer("Carol Caller");
    const input = { accountNumber: caller.accountNumber, name: "Carol Caller" };
    await confirmStepUp(caller, await codeFor(caller), stepUpOperationHash("save_payee", caller, input));
    const refused = await expectBankError(savePayee(caller, input), "invalid_input");
    expect(refused.fieldErrors?.accountNumber).toBeDefined();
    expect(await database().select().from(payees).where(eq(payees.ownerId, caller.userId))).toEqual([]);
  });
});
