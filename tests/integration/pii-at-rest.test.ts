import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { sql } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { databaseHandle } from "@/db/client";
import { applyMigrations } from "@/db/migrations";
import { seedDemoData, type DemoSignIn } from "@/db/seed-demo-data";
import { postCustomerTransfer } from "@/lib/ledger/post-transfer";
import { queryRows } from "../helpers/database-queries";
import { useIntegrationEnvironment } from "../helpers/integration-environment";
import { savePayee } from "../helpers/ledger-fixtures";
import { demoCustomer, openSession, transferRequest } from "../helpers/transfer-fixtures";

/**
 * The promise of field encryption, checked on the data itself: a database holding the demo bank's PII — the
 * seeded profiles, the authenticator secrets, a payee's name and a transfer's memo — contains none of it in
 * plaintext, neither row by row nor in a `pg_dump` of the whole database.
 */
const integration = useIntegrationEnvironment();
const execFileAsync = promisify(execFile);

const memo = "Rent for flat 4B, March";
const payeeName = "Brennan Household Account";
let signIns: DemoSignIn[] = [];

/** Every value that must never be stored as readable text. */
function plaintextPii(): string[] {
  const seededProfiles = [
    "1988-04-12", "+447700900123", "12 Harbour Street", "Portsmouth", "PO1 2AB", "QQ123456C",
    "1979-11-03", "+447700900456", "3 Quay Lane", "Falmouth", "TR11 3HF", "QQ654321A",
  ];
  return [
    ...seededProfiles,
    ...signIns.flatMap((signIn) => [signIn.email, signIn.legalName, signIn.totpSecret]),
    memo,
    payeeName,
  ];
}

beforeAll(async () => {
  await applyMigrations(databaseHandle());
  signIns = (await seedDemoData()).signIns;
  const [first, second] = signIns.filter((signIn) => signIn.role === "customer");
  if (!first || !second) throw new Error("the seed made fewer than two customers");
  const alice = await openSession(await demoCustomer(first));
  const bob = await demoCustomer(second);
  const payee = await savePayee(alice, bob.checkingId, { name: payeeName });
  await postCustomerTransfer(alice, transferRequest({ fromAccountId: (await demoCustomer(first)).checkingId, to: { kind: "payee", payeeId: payee }, amount: "12.50", memo }));
});

describe("personal data at rest", () => {
  it("is in no row of any table as plaintext", async () => {
    const tables = await queryRows<{ name: string }>(sql`select table_name as name from information_schema.tables where table_schema = 'public' and table_type = 'BASE TABLE' order by 1`);
    expect(tables.map((table) => table.name)).toEqual(expect.arrayContaining(["users", "transfers", "payees", "outbox"]));
    let everyRow = "";
    for (const table of tables) {
      const rows = await queryRows<{ row: string }>(sql`select t::text as row from ${sql.identifier(table.name)} t`);
      everyRow += rows.map((row) => row.row).join("\n");
    }
    // The check itself can fail: the rows are there, with the ciphertexts that stand for the values.
    expect(everyRow).toContain("v1:pii:");
    expect(everyRow).toContain("v1:mfa:");
    expect(everyRow).toContain("v1:memo:");
    for (const value of plaintextPii()) expect(everyRow, `found ${value}`).not.toContain(value);
  });

  it.runIf(process.env.INTEGRATION_DATABASE === "postgres")("is nowhere in a pg_dump of the database", async () => {
    // A dump is taken by the owner role: the app's runtime role may not read the migrations' own schema.
    const { databaseName, migrationDatabaseUrl } = integration();
    const url = new URL(migrationDatabaseUrl ?? "");
    const { stdout } = await execFileAsync("pg_dump", ["--no-owner", "-h", url.hostname, "-p", url.port || "5432", "-U", decodeURIComponent(url.username || "postgres"), databaseName ?? ""], {
      env: { ...process.env, ...(url.password ? { PGPASSWORD: decodeURIComponent(url.password) } : {}) },
      maxBuffer: 1 << 26,
    });
    expect(stdout).toContain("COPY public.users");
    expect(stdout).toContain("v1:pii:");
    for (const value of plaintextPii()) expect(stdout, `found ${value}`).not.toContain(value);
  });
});
