import "server-only";
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { count, sql } from "drizzle-orm";
import { database, type Transaction } from "@/db/client";
import { accounts, users } from "@/db/schema";
import { bankCurrency, randomAccountNumber } from "@/lib/accounts/open-account";
import { recordAuditEvent } from "@/lib/audit/record-audit-event";
import { systemActor, type StaffRole } from "@/lib/auth/actor";
import { hashPassword } from "@/lib/auth/password";
import { generateTotpSecret, totpSecretField } from "@/lib/auth/totp";
import { blindIndex, encryptField, normaliseEmail } from "@/lib/crypto";
import { env } from "@/lib/env";
import { profileField } from "@/lib/identity/profile";
import { postSystemDeposit } from "@/lib/ledger/post-system-deposit";
import { ensureSystemAccounts, systemAccountId } from "@/lib/ledger/system-accounts";

export interface DemoSignIn {
  role: "customer" | StaffRole;
  legalName: string;
  email: string;
  password: string;
  /**
   * The authenticator secret (base32) this install gave the user, for adding to an authenticator app (or for
   * tests to compute codes). Sign-in does not ask for a code yet; it will when the second step is wired in.
   */
  totpSecret: string;
}

export interface DemoCredentialsFile {
  note: string;
  createdAt: string;
  signIns: DemoSignIn[];
}

export const demoCustomers = [
  {
    legalName: "Alice Atkinson",
    email: "alice@example.com",
    // Made-up profile details in reserved ranges: Ofcom's drama numbers and a National Insurance prefix
    // ("QQ") that is never issued.
    profile: { dateOfBirth: "1988-04-12", phone: "+447700900123", postalAddress: "12 Harbour Street\nPortsmouth\nPO1 2AB", nationalIdentifier: "QQ123456C" },
    accounts: [
      { kind: "checking" as const, nickname: "Everyday", openingMinor: 5_234_017n },
      { kind: "savings" as const, nickname: "Rainy day", openingMinor: 7_500_000n },
    ],
  },
  {
    legalName: "Bob Brennan",
    email: "bob@example.com",
    profile: { dateOfBirth: "1979-11-03", phone: "+447700900456", postalAddress: "3 Quay Lane\nFalmouth\nTR11 3HF", nationalIdentifier: "QQ654321A" },
    accounts: [
      { kind: "checking" as const, nickname: "Current", openingMinor: 6_100_050n },
      { kind: "savings" as const, nickname: "House deposit", openingMinor: 12_000_000n },
    ],
  },
  // Two more customers, so that a demo of the back office has more than two people to find, and so that the
  // end-to-end suite can spread its sign-ins (each authenticator code is accepted once per person).
  {
    legalName: "Carol Chen",
    email: "carol@example.com",
    profile: { dateOfBirth: "1991-07-21", phone: "+447700900789", postalAddress: "8 Dock Road\nPlymouth\nPL1 3RS", nationalIdentifier: "QQ246810B" },
    accounts: [
      { kind: "checking" as const, nickname: "Main", openingMinor: 5_450_000n },
      { kind: "savings" as const, nickname: "Travel", openingMinor: 6_000_000n },
    ],
  },
  {
    legalName: "Dan Doyle",
    email: "dan@example.com",
    profile: { dateOfBirth: "1985-02-14", phone: "+447700900321", postalAddress: "21 Pier Street\nWhitby\nYO21 3PU", nationalIdentifier: "QQ135790D" },
    accounts: [
      { kind: "checking" as const, nickname: "Bills", openingMinor: 5_980_000n },
      { kind: "savings" as const, nickname: "Boat fund", openingMinor: 8_300_000n },
    ],
  },
];

const demoStaff: { role: StaffRole; legalName: string; email: string }[] = [
  { role: "admin", legalName: "Ada Admin", email: "ada.admin@example.com" },
  { role: "admin", legalName: "Alan Admin", email: "alan.admin@example.com" },
  { role: "support", legalName: "Sam Support", email: "sam.support@example.com" },
  { role: "auditor", legalName: "Audrey Auditor", email: "audrey.auditor@example.com" },
];

// Demo accounts are in the bank's one currency, the same as every account a verified customer opens.
const demoCurrency = bankCurrency;

/** A fresh password per install: 12+ characters with a special character, never a shared default. */
function generateDemoPassword(): string {
  return `Demo-${crypto.randomBytes(12).toString("base64url")}!`;
}

interface DemoProfile {
  dateOfBirth: string;
  phone: string;
  postalAddress: string;
  nationalIdentifier: string;
}

/**
 * Inserts a verified user enrolled with `totpSecret`: the email and legal name encrypted and the email's blind
 * index computed exactly as registration does. Shared with `npm run admin:create` (lib/admin/create-first-admin.ts),
 * so that the first admin is stored like every other user.
 */
export async function insertUser(
  tx: Transaction,
  person: { role: DemoSignIn["role"]; legalName: string; email: string; profile?: DemoProfile },
  password: string,
  totpSecret: string,
): Promise<string> {
  const id = crypto.randomUUID();
  const { profile } = person;
  await tx.insert(users).values({
    id,
    role: person.role,
    emailCiphertext: await encryptField(normaliseEmail(person.email), { table: "users", column: "email", rowId: id }),
    emailBlindIndex: await blindIndex("email", normaliseEmail(person.email)),
    legalNameCiphertext: await encryptField(person.legalName, { table: "users", column: "legal_name", rowId: id }),
    passwordHash: await hashPassword(password),
    // Demo users are created already verified: there is no mailbox behind example.com.
    emailVerifiedAt: new Date(),
    termsAcceptedAt: person.role === "customer" ? new Date() : null,
    // Every demo user is enrolled with a secret of this install (never a shared default), under the "mfa" key.
    totpSecretCiphertext: await encryptField(totpSecret, totpSecretField(id), "mfa"),
    totpEnrolledAt: new Date(),
    ...(profile
      ? {
          dateOfBirthCiphertext: await encryptField(profile.dateOfBirth, { table: "users", column: "date_of_birth", rowId: id }),
          phoneCiphertext: await encryptField(profile.phone, profileField(id, "phone")),
          postalAddressCiphertext: await encryptField(profile.postalAddress, profileField(id, "postal_address")),
          nationalIdentifierCiphertext: await encryptField(profile.nationalIdentifier, profileField(id, "national_identifier")),
        }
      : {}),
  });
  return id;
}

function writeCredentialsFile(filePath: string, signIns: DemoSignIn[]): void {
  const contents: DemoCredentialsFile = {
    note: "Demo sign-ins for this install only. Generated by the seed; never used in production.",
    createdAt: new Date().toISOString(),
    signIns,
  };
  fs.mkdirSync(path.dirname(filePath), { recursive: true, mode: 0o700 });
  const temporaryPath = `${filePath}.${process.pid}.tmp`;
  fs.writeFileSync(temporaryPath, `${JSON.stringify(contents, null, 2)}\n`, { mode: 0o600 });
  fs.renameSync(temporaryPath, filePath);
}

/**
 * Seeds demo customers (each with a checking and a savings account funded from the bank's system account)
 * and demo staff, only into an empty database and never in production. Everything happens in one
 * transaction, so a crash leaves either the whole demo bank or nothing. Returns whether anything was created.
 */
export async function seedDemoData(): Promise<{ created: boolean; signIns: DemoSignIn[] }> {
  const configuration = env();
  if (configuration.isStrictProduction) {
    throw new Error("Refusing to seed demo data in production mode.");
  }
  const actor = systemActor("seed");

  return database().transaction(async (tx) => {
    // Two seeds started at once must not both see an empty database.
    await tx.execute(sql`select pg_advisory_xact_lock(4242001)`);
    const [existing] = await tx.select({ userCount: count() }).from(users);
    if ((existing?.userCount ?? 0) > 0) return { created: false, signIns: [] };

    const signIns: DemoSignIn[] = [];
    // The migrations create the bank's system accounts; demo balances come from the funding account.
    await ensureSystemAccounts(tx, demoCurrency);
    const fundingAccountId = await systemAccountId(tx, "funding", demoCurrency);

    for (const customer of demoCustomers) {
      const password = generateDemoPassword();
      const totpSecret = generateTotpSecret();
      const userId = await insertUser(tx, { role: "customer", ...customer }, password, totpSecret);
      signIns.push({ role: "customer", legalName: customer.legalName, email: customer.email, password, totpSecret });
      for (const account of customer.accounts) {
        const accountId = crypto.randomUUID();
        await tx.insert(accounts).values({
          id: accountId,
          ownerId: userId,
          ownerRole: "customer",
          kind: account.kind,
          accountNumber: randomAccountNumber(),
          currency: demoCurrency,
          nickname: account.nickname,
        });
        await postSystemDeposit(
          actor,
          { fundingAccountId, customerAccountId: accountId, amountMinor: account.openingMinor },
          tx,
        );
      }
    }

    for (const staffMember of demoStaff) {
      const password = generateDemoPassword();
      const totpSecret = generateTotpSecret();
      await insertUser(tx, staffMember, password, totpSecret);
      signIns.push({ ...staffMember, password, totpSecret });
    }

    await recordAuditEvent(tx, {
      actorId: null,
      actorRole: actor.role,
      action: "system.demo_data.seeded",
      details: { customers: demoCustomers.length, staff: demoStaff.length },
    });
    // Written before the commit: if the commit then fails, a stale file names users that do not exist and
    // the next seed overwrites it; the other order could leave users whose passwords nobody knows.
    writeCredentialsFile(configuration.demoCredentialsPath, signIns);
    return { created: true, signIns };
  });
}
