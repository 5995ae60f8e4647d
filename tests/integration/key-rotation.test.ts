/**
 * Rotation of data keys and online re-encryption, on real PostgreSQL, with rows written by the application's
 * own data-layer functions (registration, sign-in enrolment, authenticator replacement, email change, payees,
 * transfers with memos, the mail outbox), so that the registry of encrypted columns is checked against what
 * the writers really bind into each ciphertext.
 */
import crypto from "node:crypto";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { eq, sql } from "drizzle-orm";
import { generate } from "otplib";
import { beforeAll, describe, expect, it } from "vitest";
import { database, databaseHandle, executeRows } from "@/db/client";
import { applyMigrations } from "@/db/migrations";
import { outbox, sessions, stepUpConfirmations, users } from "@/db/schema";
import { seedDemoData, type DemoSignIn } from "@/db/seed-demo-data";
import type { SessionActor, StaffActor } from "@/lib/auth/actor";
import { inviteStaff, staffInvitationField } from "@/lib/admin/staff/invite-staff";
import { openStaffInvitation } from "@/lib/identity/staff-invitation";
import { requestMfaReset } from "@/lib/admin/mfa-reset/request-mfa-reset";
import { mfaResetReasonField } from "@/lib/admin/mfa-reset/shared";
import { authenticateWithPassword } from "@/lib/auth/authenticate-with-password";
import { pendingTotpSecretField, startAuthenticatorReplacement } from "@/lib/auth/authenticator-replacement";
import {
  completeTicketEnrolment,
  issueSignInTicket,
  startTicketEnrolment,
  verifyTicketSecondFactor,
} from "@/lib/auth/sign-in-tickets";
import { stepUpOperationHash } from "@/lib/auth/step-up-operations";
import { totpSecretField } from "@/lib/auth/totp";
import { currentDataKeyVersion, decryptField, encryptField } from "@/lib/crypto";
import { encryptedColumns, fieldContextOf, type EncryptedColumn } from "@/lib/crypto/encrypted-columns";
import { dataKeyPurposes } from "@/lib/crypto/key-provider";
import {
  describeValuesOnOldVersions,
  findValuesOnOldVersions,
  readValuesOnOtherVersions,
  reencryptColumn,
  reencryptValues,
  secondsSinceNewestRotation,
  writeReencryptedValues,
} from "@/lib/crypto/reencryption";
import { rotateDataKeys } from "@/lib/crypto/rotate-data-keys";
import { requestEmailChange } from "@/lib/identity/account-security";
import { registerCustomerAccount } from "@/lib/identity/register";
import { getMyTransfer } from "@/lib/ledger/get-transfer";
import { postCustomerTransfer, transferMemoField, type TransferringCustomer } from "@/lib/ledger/post-transfer";
import { profileField } from "@/lib/identity/profile";
import { payeeNameField } from "@/lib/payees/list-my-payees";
import { useIntegrationEnvironment } from "../helpers/integration-environment";
import { openFundedAccount, savePayee } from "../helpers/ledger-fixtures";
import { seededAccount, transferRequest, userIdFor } from "../helpers/transfer-fixtures";

// Set before the application reads its configuration (env() is read once per process, on first use).
process.env.KEY_REFRESH_SECONDS = "1";

const environment = useIntegrationEnvironment();

const context = { ipAddress: "198.51.100.71", userAgent: "key-rotation-test/1.0" };
const password = "Quiet-lantern-harbour-47!";

let demoCustomers: DemoSignIn[] = [];
let alice: TransferringCustomer;
let aliceChecking: string;
let aliceSavings: string;

function browserBinding(): string {
  return crypto.randomBytes(32).toString("base64url");
}

async function codeAt(secret: string, offsetSteps = 0): Promise<string> {
  return generate({ secret, epoch: Math.floor(Date.now() / 1000) + offsetSteps * 30 });
}

/** Registers a customer through the app and marks the address verified (the link itself is tested elsewhere). */
async function registerCustomer(legalName: string): Promise<{ userId: string; email: string }> {
  const email = `rotation-${crypto.randomBytes(4).toString("hex")}@example.com`;
  await registerCustomerAccount({ legalName, email, dateOfBirth: "1988-02-29", password }, context);
  const userId = await userIdFor(email);
  await database().update(users).set({ emailVerifiedAt: new Date() }).where(eq(users.id, userId));
  return { userId, email };
}

async function openSession(userId: string): Promise<SessionActor> {
  const sessionId = crypto.randomUUID();
  await database().insert(sessions).values({ id: sessionId, userId });
  return { kind: "customer", role: "customer", userId, sessionId, ...context };
}

/** Every value of every registry column, decrypted through the registry: "table.column/id" → plaintext. */
async function decryptEverything(): Promise<Map<string, string>> {
  const values = new Map<string, string>();
  for (const column of encryptedColumns) {
    for (const row of await readValuesOnOtherVersions(database(), column, 0, null, 100_000)) {
      values.set(`${column.table}.${column.ciphertextColumn}/${row.id}`, await decryptField(row.ciphertext, fieldContextOf(column, row.id), column.purpose));
    }
  }
  return values;
}

async function rowCount(column: EncryptedColumn): Promise<number> {
  const [row] = await executeRows<{ count: number }>(
    database(),
    sql`select count(*)::int as count from ${sql.identifier(column.table)} where ${sql.identifier(column.ciphertextColumn)} is not null`,
  );
  return Number(row?.count ?? 0);
}

async function reencryptAll(batchSize = 3): Promise<void> {
  for (const column of encryptedColumns) await reencryptColumn(column, { batchSize });
}

beforeAll(async () => {
  await applyMigrations(databaseHandle());
  const seeded = await seedDemoData();
  demoCustomers = seeded.signIns.filter((signIn) => signIn.role === "customer");
  const [first] = demoCustomers;
  if (!first) throw new Error("the demo seed has no customer");
  alice = { kind: "customer", role: "customer", userId: await userIdFor(first.email), ...context, sessionId: null };
  aliceChecking = (await seededAccount(alice.userId, "checking")).id;
  aliceSavings = (await seededAccount(alice.userId, "savings")).id;

  // A customer who enrols an authenticator during sign-in, then starts replacing it and asks to change email.
  const dana = await registerCustomer("Dana Newcomer");
  const binding = browserBinding();
  const ticket = await issueSignInTicket(database(), dana.userId, binding);
  const provisioning = await startTicketEnrolment(ticket.token, binding);
  if (!provisioning) throw new Error("enrolment did not start");
  const danaSecret = provisioning.secretForManualEntry.replace(/\s+/g, "");
  const enrolled = await completeTicketEnrolment(ticket.token, binding, await codeAt(danaSecret), context);
  if (!enrolled.enrolled) throw new Error(`enrolment failed: ${enrolled.reason}`);
  const danaActor = await openSession(dana.userId);
  await startAuthenticatorReplacement(danaActor, { password, secondFactor: await codeAt(danaSecret, 1) });
  await requestEmailChange(danaActor, { currentPassword: password, newEmail: `renamed-${crypto.randomBytes(4).toString("hex")}@example.com` });

  // A support member asks for Dana's second factor to be reset (the reason is encrypted). The step-up
  // confirmation is written directly; the confirmation path is tested in admin-mfa-reset.test.ts.
  const samSignIn = seeded.signIns.find((signIn) => signIn.role === "support");
  if (!samSignIn) throw new Error("the demo seed has no support member");
  const samSessionId = crypto.randomUUID();
  const samId = await userIdFor(samSignIn.email);
  await database().insert(sessions).values({ id: samSessionId, userId: samId });
  const sam: SessionActor = { kind: "staff", role: "support", userId: samId, sessionId: samSessionId, ...context };
  await database()
    .insert(stepUpConfirmations)
    .values({
      id: crypto.randomUUID(),
      sessionId: samSessionId,
      payloadHash: stepUpOperationHash("staff_request_mfa_reset", sam, { customerId: dana.userId }),
      confirmedAt: new Date(),
    });
  await requestMfaReset(sam, dana.userId, "Lost phone; identity checked by video call.");

  // A customer whose sign-in enrolment is still in progress (the secret waits on the ticket).
  const eli = await registerCustomer("Eli Halfway");
  const eliBinding = browserBinding();
  const eliTicket = await issueSignInTicket(database(), eli.userId, eliBinding);
  if (!(await startTicketEnrolment(eliTicket.token, eliBinding))) throw new Error("enrolment did not start");

  // A staff invitation its invitee has opened (the authenticator secret waits on the invitation).
  const demoAdmin = seeded.signIns.find((signIn) => signIn.role === "admin");
  if (!demoAdmin) throw new Error("the demo seed has no admin");
  const inviter: StaffActor = { kind: "staff", role: "admin", userId: await userIdFor(demoAdmin.email), ...context };
  await inviteStaff(inviter, { email: `invited-${crypto.randomBytes(4).toString("hex")}@example.com`, legalName: "Ivy Invitee", role: "support" });
  const invitationEmails = await database().select().from(outbox).where(eq(outbox.template, "staff_invitation"));
  const [invitationEmail] = invitationEmails;
  if (!invitationEmail) throw new Error("no invitation email");
  const invitationBody = await decryptField(invitationEmail.bodyCiphertext, { table: "outbox", column: "body", rowId: invitationEmail.id });
  const invitationToken = /\/staff-invitation\/([A-Za-z0-9_-]{43})/.exec(invitationBody)?.[1];
  if (!invitationToken) throw new Error("no invitation link");
  await openStaffInvitation(invitationToken);

  // Payees and transfers with memos.
  const payeeAccount = await openFundedAccount({ ...alice, userId: (await registerCustomer("Bob Payee")).userId }, 0n);
  const payeeId = await savePayee(alice, payeeAccount, { name: "Bob Payee" });
  await postCustomerTransfer(alice, transferRequest({ fromAccountId: aliceChecking, to: { kind: "payee", payeeId }, amount: "5.00", memo: "Rent, March" }));
  for (let index = 0; index < 7; index += 1) {
    await postCustomerTransfer(alice, transferRequest({ fromAccountId: aliceChecking, to: { kind: "own_account", accountId: aliceSavings }, amount: "1.00", memo: `Savings ${String(index)}` }));
  }
});

describe("the registry of encrypted columns", () => {
  it("lists every *_ciphertext column of the database, each in a table with a uuid id", async () => {
    const columns = await executeRows<{ table_name: string; column_name: string }>(
      database(),
      sql`select table_name, column_name from information_schema.columns
          where table_schema = 'public' and column_name like '%\\_ciphertext' order by 1, 2`,
    );
    const listed = new Set(encryptedColumns.map((column) => `${column.table}.${column.ciphertextColumn}`));
    const inDatabase = columns.map((column) => `${column.table_name}.${column.column_name}`);
    expect(inDatabase.filter((name) => !listed.has(name))).toEqual([]);
    expect([...listed].filter((name) => !inDatabase.includes(name))).toEqual([]);
    for (const column of encryptedColumns) {
      const [id] = await executeRows<{ data_type: string }>(
        database(),
        sql`select data_type from information_schema.columns
            where table_schema = 'public' and table_name = ${column.table} and column_name = ${column.idColumn}`,
      );
      expect(id?.data_type, `${column.table}.${column.idColumn}`).toBe("uuid");
    }
  });

  it("binds the same contexts as the writers' own context functions", () => {
    const rowId = crypto.randomUUID();
    const contextOf = (table: string, contextColumn: string) => {
      const column = encryptedColumns.find((entry) => entry.table === table && entry.contextColumn === contextColumn);
      if (!column) throw new Error(`no entry for ${table}.${contextColumn}`);
      return fieldContextOf(column, rowId);
    };
    expect(contextOf("users", "totp_secret")).toEqual(totpSecretField(rowId));
    expect(contextOf("users", "pending_totp_secret")).toEqual(pendingTotpSecretField(rowId));
    expect(contextOf("payees", "name")).toEqual(payeeNameField(rowId));
    expect(contextOf("transfers", "memo")).toEqual(transferMemoField(rowId));
    expect(contextOf("mfa_reset_requests", "reason")).toEqual(mfaResetReasonField(rowId));
    expect(contextOf("users", "phone")).toEqual(profileField(rowId, "phone"));
    expect(contextOf("users", "postal_address")).toEqual(profileField(rowId, "postal_address"));
    expect(contextOf("users", "national_identifier")).toEqual(profileField(rowId, "national_identifier"));
    expect(contextOf("staff_invitations", "email")).toEqual(staffInvitationField(rowId, "email"));
    expect(contextOf("staff_invitations", "legal_name")).toEqual(staffInvitationField(rowId, "legal_name"));
  });

  it("decrypts what the application wrote, through every entry (each column has rows here)", async () => {
    for (const column of encryptedColumns) {
      expect(await rowCount(column), `${column.table}.${column.ciphertextColumn} has no rows in this test`).toBeGreaterThan(0);
    }
    const values = await decryptEverything();
    expect([...values.values()]).toContain("Rent, March");
    expect([...values.values()]).toContain("Dana Newcomer");
    expect([...values.values()]).toContain("1988-02-29");
  });
});

describe("rotation and re-encryption", () => {
  it("leaves every value readable, the app's reads working, and no value on an old version", async () => {
    const before = await decryptEverything();
    const versionsBefore = await Promise.all(dataKeyPurposes.map((purpose) => currentDataKeyVersion(purpose)));
    const rotated = await rotateDataKeys(dataKeyPurposes);
    expect(rotated.map((entry) => entry.version)).toEqual(versionsBefore.map((version) => version + 1));
    expect(await secondsSinceNewestRotation(database())).toBeLessThan(60);

    const waiting = await findValuesOnOldVersions(encryptedColumns);
    expect(waiting.map((entry) => `${entry.column.table}.${entry.column.ciphertextColumn}`).sort()).toEqual(
      encryptedColumns.map((column) => `${column.table}.${column.ciphertextColumn}`).sort(),
    );

    await reencryptAll();
    expect(await findValuesOnOldVersions(encryptedColumns)).toEqual([]);
    expect(await decryptEverything()).toEqual(before);
    for (const column of encryptedColumns) {
      const version = await currentDataKeyVersion(column.purpose);
      expect(await readValuesOnOtherVersions(database(), column, version, null, 10)).toEqual([]);
    }
    // The application's own read paths work on the re-encrypted rows.
    const [first] = demoCustomers;
    if (!first) throw new Error("no demo customer");
    await expect(authenticateWithPassword({ email: first.email, password: first.password }, context)).resolves.toMatchObject({
      userId: alice.userId,
    });
  });

  it("an interrupted run leaves a mix, and the next run finishes it", async () => {
    await rotateDataKeys(["memo"]);
    const [memoColumn] = encryptedColumns.filter((column) => column.purpose === "memo");
    if (!memoColumn) throw new Error("no memo column");
    const total = await rowCount(memoColumn);
    expect(total).toBeGreaterThan(2);

    const interruption = new AbortController();
    const first = await reencryptColumn(memoColumn, {
      batchSize: 2,
      signal: interruption.signal,
      onProgress: (progress) => {
        if (progress.processed > 0) interruption.abort();
      },
    });
    expect(first).toMatchObject({ total, processed: 2, reencrypted: 2 });
    const [left] = await findValuesOnOldVersions([memoColumn]);
    expect([...(left?.countsByVersion.values() ?? [])].reduce((sum, count) => sum + count, 0)).toBe(total - 2);

    const second = await reencryptColumn(memoColumn, { batchSize: 2 });
    expect(second).toMatchObject({ total: total - 2, processed: total - 2, reencrypted: total - 2 });
    expect(await findValuesOnOldVersions([memoColumn])).toEqual([]);
  });

  it("never overwrites a value the application changed between the read and the write", async () => {
    await rotateDataKeys(["pii"]);
    const legalName = encryptedColumns.find((column) => column.table === "users" && column.contextColumn === "legal_name");
    if (!legalName) throw new Error("no legal name column");
    const currentVersion = await currentDataKeyVersion("pii");
    const read = await readValuesOnOtherVersions(database(), legalName, currentVersion, null, 100);
    const reencrypted = await reencryptValues(legalName, read);
    const [changed] = read;
    if (!changed) throw new Error("nothing to re-encrypt");

    // The application writes a new value to one of the rows after the batch was read.
    const written = await encryptField("Changed Meanwhile", fieldContextOf(legalName, changed.id));
    await database().update(users).set({ legalNameCiphertext: written }).where(eq(users.id, changed.id));

    expect(await writeReencryptedValues(database(), legalName, reencrypted)).toBe(read.length - 1);
    const [row] = await database().select({ value: users.legalNameCiphertext }).from(users).where(eq(users.id, changed.id));
    expect(row?.value).toBe(written);
    expect(await decryptField(written, fieldContextOf(legalName, changed.id))).toBe("Changed Meanwhile");
    await reencryptAll();
    expect(await findValuesOnOldVersions(encryptedColumns)).toEqual([]);
  });

  it("reports the columns and versions still waiting, until re-encryption has run", async () => {
    await rotateDataKeys(["mfa"]);
    const waiting = await findValuesOnOldVersions(encryptedColumns);
    const mfaVersion = await currentDataKeyVersion("mfa");
    expect(waiting.every((entry) => entry.column.purpose === "mfa" && entry.currentVersion === mfaVersion)).toBe(true);
    expect(waiting.map((entry) => [...entry.countsByVersion.keys()]).flat()).toEqual(
      waiting.map(() => String(mfaVersion - 1)),
    );
    const report = describeValuesOnOldVersions(waiting);
    expect(report).toMatch(/^Values still on an old key version:\n/);
    expect(report).toContain(`users.totp_secret_ciphertext (mfa, current version ${String(mfaVersion)}): version ${String(mfaVersion - 1)}: `);
    expect(report).toContain("sign_in_tickets.pending_totp_secret_ciphertext (mfa");
    await reencryptAll();
    expect(describeValuesOnOldVersions(await findValuesOnOldVersions(encryptedColumns))).toBe("No row uses an old key version.\n");
  });

  it("serves sign-ins and transfers while re-encryption runs, and all of them succeed", async () => {
    await rotateDataKeys(dataKeyPurposes);
    const before = await decryptEverything();
    const signIns = demoCustomers.map(async (customer) => {
      const user = await authenticateWithPassword({ email: customer.email, password: customer.password }, context);
      if (!user) throw new Error(`sign-in of ${customer.email} failed`);
      const binding = browserBinding();
      const ticket = await issueSignInTicket(database(), user.userId, binding);
      return verifyTicketSecondFactor(ticket.token, binding, { method: "totp", code: await codeAt(customer.totpSecret, 1) }, context);
    });
    const transfers = Array.from({ length: 8 }, (_, index) =>
      postCustomerTransfer(
        alice,
        transferRequest({ fromAccountId: aliceChecking, to: { kind: "own_account", accountId: aliceSavings }, amount: "0.10", memo: `During ${String(index)}` }),
      ),
    );
    const [results, posted] = await Promise.all([Promise.all(signIns), Promise.all(transfers), reencryptAll(1)]);
    expect(results.map((result) => (result.verified ? "verified" : result.reason))).toEqual(demoCustomers.map(() => "verified"));
    expect(posted.every((transfer) => transfer.status === "posted")).toBe(true);
    for (const [index, transfer] of posted.entries()) {
      await expect(getMyTransfer(alice, transfer.transferId)).resolves.toMatchObject({ memo: `During ${String(index)}` });
    }
    expect(await findValuesOnOldVersions(encryptedColumns)).toEqual([]);
    const after = await decryptEverything();
    for (const [key, value] of before) expect(after.get(key), key).toBe(value);
  });
});

// The commands run in a second process. PGlite's folder can be open in one process only (this test process
// holds it), which is also why, with the embedded database, re-encryption cannot run beside the app.
const onPostgres = process.env.INTEGRATION_DATABASE === "postgres";

describe.skipIf(!onPostgres)("the commands (PostgreSQL)", () => {
  it("keys:rotate then keys:reencrypt waits for the refresh interval, re-encrypts and says no row uses an old version; two keys:rotate processes at once lose no version", async () => {
    const run = promisify(execFile);
    const { keyringPath, databaseName } = environment();
    if (!databaseName) throw new Error("postgres only");
    // The test's own environment already names this file's database and keyring; only the interval differs.
    // Six seconds, not fewer: on a loaded 2-core machine tsx alone needs about three seconds to start
    // keys:reencrypt, and the wait this test looks for must not have run out before the command begins.
    const commandEnvironment: NodeJS.ProcessEnv = { ...process.env, KEY_REFRESH_SECONDS: "6", KEYRING_PATH: keyringPath };
    const tsx = ["--conditions=react-server", "--import", "tsx"];
    const rotated = await run(process.execPath, [...tsx, "scripts/keys-rotate.ts", "all"], { env: commandEnvironment });
    expect(rotated.stdout).toMatch(/pii: version \d+ is now the current data key/);
    const reencrypted = await run(process.execPath, [...tsx, "scripts/keys-reencrypt.ts", "--batch-size", "4"], {
      env: commandEnvironment,
    });
    expect(reencrypted.stderr).toMatch(/Waiting [\d.]+ s more \(KEY_REFRESH_SECONDS=6\)/);
    expect(reencrypted.stderr).toMatch(/transfers\.memo_ciphertext \[#+\] \d+\/\d+ 100%/);
    expect(reencrypted.stdout).toBe("No row uses an old key version.\n");
    // Two operators rotating at the same moment from two processes: each gets its own version, none is lost.
    const before = await currentDataKeyVersion("pii");
    const both = await Promise.all(
      [0, 1].map(() => run(process.execPath, [...tsx, "scripts/keys-rotate.ts", "pii"], { env: commandEnvironment })),
    );
    const versions = both.map((result) => Number(/pii: version (\d+)/.exec(result.stdout)?.[1])).sort((a, b) => a - b);
    expect(versions).toEqual([before + 1, before + 2]);
    const afterBoth = await run(process.execPath, [...tsx, "scripts/keys-reencrypt.ts"], { env: commandEnvironment });
    expect(afterBoth.stdout).toBe("No row uses an old key version.\n");
    // This process's provider sees the command's rotation within its own refresh interval (one second here).
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    expect(await findValuesOnOldVersions(encryptedColumns)).toEqual([]);
  }, 90_000);
});
