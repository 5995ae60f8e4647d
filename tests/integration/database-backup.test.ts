import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { gunzipSync, gzipSync } from "node:zlib";
import { sql } from "drizzle-orm";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { closeDatabase, databaseHandle, openPgliteForMaintenance } from "@/db/client";
import { applyMigrations } from "@/db/migrations";
import { seedDemoData, type DemoSignIn } from "@/db/seed-demo-data";
import { readBackupHeader, verifyBackup, writeEncryptedBackup, type BackupKeyWrapping } from "@/lib/backup/backup-format";
import { createKeyringFile } from "@/lib/crypto/keyring-format";
import { createLocalKeyring } from "@/lib/crypto/local-keyring";
import { createPkcs11Provider, type Pkcs11KeyProvider } from "@/lib/crypto/pkcs11-provider";
import { env } from "@/lib/env";
import { postCustomerTransfer } from "@/lib/ledger/post-transfer";
import { backupDatabase, restoreDatabase, type DatabaseLocationForBackup } from "@/scripts/database-backup";
import { backupLayout, recordAt, withBitFlipped } from "../helpers/backup-layout";
import { queryRows } from "../helpers/database-queries";
import { useIntegrationEnvironment } from "../helpers/integration-environment";
import { savePayee } from "../helpers/ledger-fixtures";
import { testKeyLabels, useSoftHsm } from "../helpers/softhsm-token";
import { demoCustomer, openSession, transferRequest } from "../helpers/transfer-fixtures";

/**
 * Encrypted backups end to end on the real parts: the seeded demo bank is backed up (pg_dump on PostgreSQL,
 * the data-directory dump on PGlite), restored into a new empty database and compared row for row; damaged
 * backups, a non-empty target and the wrong keys are refused before anything is written; the file holds no
 * personal data or account number in plaintext; and the PKCS#11 path runs over a real SoftHSM2 token.
 * Chunks of 4 KiB make a backup of many records, so that swapping two of them is meaningful.
 */
const integration = useIntegrationEnvironment();
const softHsm = useSoftHsm();
const onPostgres = process.env.INTEGRATION_DATABASE === "postgres";
const chunkSizeBytes = 4096;

const memo = "Rent for flat 4B, March";
const payeeName = "Brennan Household Account";
let signIns: DemoSignIn[] = [];
let accountNumbers: string[] = [];
let keys: BackupKeyWrapping;
let source: DatabaseLocationForBackup;
let backupFile: string;
let sourceFingerprint: Fingerprint;
const createdDatabases: string[] = [];
const openProviders: Pkcs11KeyProvider[] = [];

/** Each query is a constant: a row count and a digest of every row's text, or the sums the ledger keeps. */
const fingerprintQueries = {
  users: "select count(*)::text as row_count, md5(coalesce(string_agg(t::text, '|' order by t::text), '')) as digest from users t",
  accounts: "select count(*)::text as row_count, md5(coalesce(string_agg(t::text, '|' order by t::text), '')) as digest from accounts t",
  balances: "select count(*)::text as row_count, coalesce(sum(balance_minor), 0)::text as digest from accounts",
  ledger: "select count(*)::text as row_count, coalesce(sum(amount_minor), 0)::text || '/' || coalesce(sum(abs(amount_minor)), 0)::text as digest from ledger_entries",
  transfers: "select count(*)::text as row_count, md5(coalesce(string_agg(t::text, '|' order by t::text), '')) as digest from transfers t",
  auditEvents: "select count(*)::text as row_count, md5(coalesce(string_agg(t::text, '|' order by t::text), '')) as digest from audit_events t",
} as const;
type Fingerprint = Record<keyof typeof fingerprintQueries, { row_count: string; digest: string }>;

async function withQueries<T>(location: DatabaseLocationForBackup, use: (query: (text: string) => Promise<Record<string, unknown>[]>) => Promise<T>): Promise<T> {
  if (location.kind === "postgres") {
    const client = postgres(location.databaseUrl, { max: 1, onnotice: () => undefined });
    try {
      return await use(async (text) => Array.from(await client.unsafe<Record<string, unknown>[]>(text)));
    } finally {
      await client.end({ timeout: 5 });
    }
  }
  const opened = await openPgliteForMaintenance(location.directory);
  try {
    return await use(async (text) => (await opened.client.query<Record<string, unknown>>(text)).rows);
  } finally {
    await opened.close();
  }
}

async function fingerprintOf(location: DatabaseLocationForBackup): Promise<Fingerprint> {
  return withQueries(location, async (query) => {
    const result: Partial<Fingerprint> = {};
    for (const [name, text] of Object.entries(fingerprintQueries) as [keyof Fingerprint, string][]) {
      const [row] = await query(text);
      result[name] = { row_count: String(row?.row_count), digest: String(row?.digest) };
    }
    return result as Fingerprint;
  });
}

/** True when nothing was written: no table in the new database, or no file in the new PGlite folder. */
async function isUntouched(location: DatabaseLocationForBackup): Promise<boolean> {
  if (location.kind === "pglite") return !fs.existsSync(location.directory) || fs.readdirSync(location.directory).length === 0;
  return withQueries(location, async (query) => {
    const [row] = await query("select count(*)::int as relations from pg_class c join pg_namespace n on n.oid = c.relnamespace where n.nspname = 'public'");
    return row?.relations === 0;
  });
}

async function newTarget(): Promise<DatabaseLocationForBackup> {
  const suffix = crypto.randomBytes(4).toString("hex");
  if (!onPostgres) return { kind: "pglite", directory: path.join(integration().temporaryRoot, `restore-${suffix}`, "pglite") };
  const name = `${inject("postgresRunPrefix")}_${suffix}`;
  if (!/^bank_it_[0-9a-z_]+$/.test(name)) throw new Error(`unexpected database name ${name}`);
  const admin = postgres(inject("postgresAdminUrl"), { max: 1, onnotice: () => undefined });
  try {
    await admin`create database ${admin(name)} template template0 encoding 'UTF8'`;
  } finally {
    await admin.end({ timeout: 5 });
  }
  createdDatabases.push(name);
  const url = new URL(inject("postgresAdminUrl"));
  url.pathname = `/${name}`;
  return { kind: "postgres", databaseUrl: url.toString() };
}

function writeVariant(name: string, bytes: Buffer): string {
  const filePath = path.join(integration().temporaryRoot, `${name}.backup`);
  fs.writeFileSync(filePath, bytes, { mode: 0o600 });
  return filePath;
}

function plaintextPii(): string[] {
  const seededProfiles = [
    "1988-04-12", "+447700900123", "12 Harbour Street", "Portsmouth", "PO1 2AB", "QQ123456C",
    "1979-11-03", "+447700900456", "3 Quay Lane", "Falmouth", "TR11 3HF", "QQ654321A",
  ];
  return [...seededProfiles, ...signIns.flatMap((signIn) => [signIn.email, signIn.legalName, signIn.totpSecret]), memo, payeeName];
}

function pkcs11Provider(tokenLabel: string, userPinFile: string): Pkcs11KeyProvider {
  const provider = createPkcs11Provider({
    modulePath: softHsm().modulePath,
    tokenLabel,
    pinFile: userPinFile,
    ...testKeyLabels,
    refreshSeconds: 30,
    // A backup must not need data_keys (the restore target has none): opening the store fails the test.
    openStore: () => {
      throw new Error("backups must not read data_keys");
    },
  });
  openProviders.push(provider);
  return provider;
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
  accountNumbers = (await queryRows<{ number: string }>(sql`select account_number as number from accounts`)).map((row) => row.number);
  if (accountNumbers.length < 4) throw new Error("the seed made fewer accounts than expected");

  const configuration = env();
  // As scripts/db-backup.ts does: PostgreSQL is dumped over the owner role's connection.
  const sourceUrl = configuration.databaseRoles.migrationDatabaseUrl ?? configuration.databaseUrl;
  source = sourceUrl ? { kind: "postgres", databaseUrl: sourceUrl } : { kind: "pglite", directory: configuration.pgliteDirectory };
  // The embedded database must not be open while it is backed up: the app's handle is closed first, exactly
  // as the README asks of an operator (stop the app).
  await closeDatabase();
  keys = createLocalKeyring(integration().keyringPath);
  backupFile = path.join(integration().temporaryRoot, "bank.backup");
  await backupDatabase({ source, destination: backupFile, keys, chunkSizeBytes });
  sourceFingerprint = await fingerprintOf(source);
});

afterAll(async () => {
  for (const provider of openProviders.splice(0)) await provider.close();
  if (createdDatabases.length === 0) return;
  const admin = postgres(inject("postgresAdminUrl"), { max: 1, onnotice: () => undefined });
  try {
    for (const name of createdDatabases) await admin`drop database if exists ${admin(name)} with (force)`;
  } finally {
    await admin.end({ timeout: 5 });
  }
});

describe("an encrypted database backup", () => {
  it("restores into a new, empty database with the same users, accounts, balances, ledger, transfers and audit trail", async () => {
    expect(Number(sourceFingerprint.users.row_count)).toBeGreaterThanOrEqual(5);
    expect(Number(sourceFingerprint.ledger.row_count)).toBeGreaterThan(0);
    const header = await readBackupHeader(backupFile);
    expect(header.sourceKind).toBe(onPostgres ? "postgres-plain-sql" : "pglite-data-directory-tar");
    expect(header.wrappedFileKey.provider).toBe("local");
    expect(backupLayout(backupFile).records.length).toBeGreaterThan(10);
    expect(fs.statSync(backupFile).mode & 0o777).toBe(0o600);

    const target = await newTarget();
    await restoreDatabase({ target, backupFile, keys });
    expect(await fingerprintOf(target)).toEqual(sourceFingerprint);
  });

  it("is refused when truncated, reordered, duplicated or bit-flipped, before any row is written", async () => {
    const layout = backupLayout(backupFile);
    const { prefix, records } = layout;
    const recordStart = (index: number) => prefix.length + records.slice(0, index).reduce((sum, record) => sum + record.length, 0);
    const variants: [string, Buffer][] = [
      ["without its final chunk", Buffer.concat([prefix, ...records.slice(0, -1)])],
      ["cut inside a chunk", layout.bytes.subarray(0, recordStart(5) + 100)],
      ["two chunks swapped", Buffer.concat([prefix, recordAt(layout, 0), recordAt(layout, 2), recordAt(layout, 1), ...records.slice(3)])],
      ["a chunk duplicated", Buffer.concat([prefix, ...records.slice(0, 4), recordAt(layout, 3), ...records.slice(4)])],
      ["a bit flipped in the header", withBitFlipped(layout.bytes, prefix.indexOf(Buffer.from('"createdAt":"20')) + 15)],
      ["a bit flipped in a chunk", withBitFlipped(layout.bytes, recordStart(records.length - 2) + 5 + 17)],
      ["a bit flipped in the final chunk", withBitFlipped(layout.bytes, layout.bytes.length - 1)],
    ];
    const target = await newTarget();
    for (const [name, bytes] of variants) {
      const damaged = writeVariant(name.replaceAll(" ", "-"), bytes);
      await expect(restoreDatabase({ target, backupFile: damaged, keys }), name).rejects.toThrow(/the backup is refused/);
      expect(await isUntouched(target), name).toBe(true);
    }
    // The same target takes the intact backup, so the refusals above were about the damage alone.
    await restoreDatabase({ target, backupFile, keys });
    expect(await fingerprintOf(target)).toEqual(sourceFingerprint);
  });

  it("holds none of the seeded personal data and no account number in plaintext", async () => {
    const chunks: Buffer[] = [];
    await verifyBackup(backupFile, keys, (chunk) => chunks.push(chunk));
    const dump = onPostgres ? Buffer.concat(chunks) : gunzipSync(Buffer.concat(chunks));
    // The search can fail: the decrypted dump does hold the account numbers.
    for (const accountNumber of accountNumbers) expect(dump.includes(Buffer.from(accountNumber)), accountNumber).toBe(true);

    const raw = fs.readFileSync(backupFile);
    for (const value of [...plaintextPii(), ...accountNumbers]) {
      expect(raw.includes(Buffer.from(value, "utf8")), `found ${value}`).toBe(false);
    }
  });

  it("is not restored into a database that already holds data", async () => {
    const error = await restoreDatabase({ target: source, backupFile, keys }).catch((caught: unknown) => caught);
    expect(String(error)).toMatch(/not empty/);
    expect(await fingerprintOf(source)).toEqual(sourceFingerprint);
  });

  it("is refused with a clear message under another keyring, and nothing is written", async () => {
    const otherKeyringPath = path.join(integration().temporaryRoot, "other-keys", "keyring.json");
    await createKeyringFile(otherKeyringPath);
    const target = await newTarget();
    await expect(restoreDatabase({ target, backupFile, keys: createLocalKeyring(otherKeyringPath) })).rejects.toThrow(
      /wrapped by local key "keyring-backup-key:[0-9a-f]{16}", but the configured keyring .* restore with the keyring/,
    );
    expect(await isUntouched(target)).toBe(true);
  });

  it("keeps the data folder and the PGlite folder owner-only (0700), also one that existed with a looser mode", async () => {
    if (source.kind !== "pglite") {
      // On PostgreSQL the folder does not exist; the check runs in the integration-pglite project.
      expect(source.kind).toBe("postgres");
      return;
    }
    expect(fs.statSync(source.directory).mode & 0o777).toBe(0o700);
    expect(fs.statSync(integration().dataDirectory).mode & 0o777).toBe(0o700);
    const loose = path.join(integration().temporaryRoot, "loose", "pglite");
    fs.mkdirSync(loose, { recursive: true, mode: 0o755 });
    fs.chmodSync(loose, 0o755);
    await restoreDatabase({ target: { kind: "pglite", directory: loose }, backupFile, keys });
    expect(fs.statSync(loose).mode & 0o777).toBe(0o700);
  });

  it("of the embedded database leaves no half-made folder when the authenticated tarball does not load", async () => {
    if (source.kind !== "pglite") {
      expect(source.kind).toBe("postgres");
      return;
    }
    // Correctly sealed under the right keys, but not a data directory: PGlite's own loading fails.
    const notADataDirectory = path.join(integration().temporaryRoot, "not-a-data-directory.backup");
    await writeEncryptedBackup({
      destination: notADataDirectory,
      source: (async function* () {
        // Compressed, so that PGlite gets past decompression and fails on the contents.
        yield gzipSync(crypto.randomBytes(3 * chunkSizeBytes));
      })(),
      sourceKind: "pglite-data-directory-tar",
      keys,
      chunkSizeBytes,
    });
    const target = await newTarget();
    const error = await restoreDatabase({ target, backupFile: notADataDirectory, keys }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(Error);
    // It passed verification: the failure is PGlite's, after the folder was handed to it.
    expect(String(error)).not.toMatch(/the backup is refused/);
    expect(await isUntouched(target)).toBe(true);
  });

  it("of the embedded database fails clearly while another process has the folder open", async () => {
    if (source.kind !== "pglite") {
      expect(source.kind).toBe("postgres");
      return;
    }
    // The app's lock file, naming a live process other than this one (the test runner's parent).
    const lockPath = `${source.directory}.lock`;
    fs.writeFileSync(lockPath, String(process.ppid), { flag: "wx" });
    try {
      const destination = path.join(integration().temporaryRoot, "while-open.backup");
      await expect(backupDatabase({ source, destination, keys })).rejects.toThrow(/already open in process .* Stop that process first/);
      expect(fs.existsSync(destination)).toBe(false);
    } finally {
      fs.rmSync(lockPath, { force: true });
    }
  });
});

describe("an encrypted database backup with the PKCS#11 provider", () => {
  it("wraps its file key in the token, restores with that token, and is refused with another one or the keyring", async () => {
    const tokenA = softHsm().createToken("backup-a");
    const tokenB = softHsm().createToken("backup-b");
    const withTokenA = pkcs11Provider(tokenA.tokenLabel, tokenA.userPinFile);
    const destination = path.join(integration().temporaryRoot, "token.backup");
    await backupDatabase({ source, destination, keys: withTokenA, chunkSizeBytes });
    const header = await readBackupHeader(destination);
    expect(header.wrappedFileKey).toMatchObject({ provider: "pkcs11", keyLabel: "backup-a/bank-kek" });

    const target = await newTarget();
    await expect(restoreDatabase({ target, backupFile: destination, keys: pkcs11Provider(tokenB.tokenLabel, tokenB.userPinFile) })).rejects.toThrow(
      /wrapped by pkcs11 key "backup-a\/bank-kek", but the configured token is "backup-b"/,
    );
    await expect(restoreDatabase({ target, backupFile: destination, keys })).rejects.toThrow(/wrapped by pkcs11 key "backup-a\/bank-kek"/);
    expect(await isUntouched(target)).toBe(true);

    // A fresh provider on token A (as after a restart) restores it.
    await restoreDatabase({ target, backupFile: destination, keys: pkcs11Provider(tokenA.tokenLabel, tokenA.userPinFile) });
    expect(await fingerprintOf(target)).toEqual(sourceFingerprint);
  });
});
