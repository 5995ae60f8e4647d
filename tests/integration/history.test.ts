import crypto from "node:crypto";
import { and, asc, desc, eq, gte, inArray, lt } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { database, databaseHandle } from "@/db/client";
import { applyMigrations } from "@/db/migrations";
import { accounts, auditEvents, ledgerEntries, sessions, stepUpConfirmations, users } from "@/db/schema";
import { seedDemoData } from "@/db/seed-demo-data";
import { env } from "@/lib/env";
import {
  bankCounterpartyLabel,
  incomingFromCustomerLabel,
  reversedPaymentLabel,
  listAccountHistory,
  listPendingTransfers,
  type HistoryEntry,
} from "@/lib/ledger/history";
import { reverseTransfer } from "@/lib/ledger/decide-transfers";
import { historyCsvStream } from "@/lib/ledger/history-csv";
import { postCustomerTransfer, transferConfirmationPayloadHash, type TransferringCustomer } from "@/lib/ledger/post-transfer";
import { getMonthlyStatement, listStatementMonths } from "@/lib/ledger/statements";
import { decodeHistoryCursor, parseHistoryQuery, type HistoryQuery } from "@/lib/validation/history";
import { useIntegrationEnvironment } from "../helpers/integration-environment";
import { savePayee } from "../helpers/ledger-fixtures";
import { seededAccount, transferRequest, userIdFor } from "../helpers/transfer-fixtures";

useIntegrationEnvironment();

let alice: TransferringCustomer;
let bob: TransferringCustomer;
let aliceChecking: string;
let aliceSavings: string;
let bobChecking: string;
let payeeBob: string;

function byAmount(first: bigint, second: bigint): number {
  return first < second ? -1 : first > second ? 1 : 0;
}

function query(fields: Partial<HistoryQuery> = {}): HistoryQuery {
  return { ...parseHistoryQuery({}), ...fields };
}

async function move(amount: string, memo = "", from = aliceChecking, to = aliceSavings) {
  return postCustomerTransfer(alice, transferRequest({ fromAccountId: from, to: { kind: "own_account", accountId: to }, amount, memo }));
}

/** Every page of a query, following the cursors, with a hook that runs between pages. */
async function allPages(actorQuery: HistoryQuery, betweenPages: () => Promise<void> = async () => undefined): Promise<HistoryEntry[]> {
  const collected: HistoryEntry[] = [];
  let next: HistoryQuery = actorQuery;
  for (let pageNumber = 0; pageNumber < 1000; pageNumber += 1) {
    const page = await listAccountHistory(alice, next);
    collected.push(...page.entries);
    if (page.nextCursor === null) return collected;
    const beforeSequence = decodeHistoryCursor(page.nextCursor);
    if (beforeSequence === null) throw new Error("unreadable cursor");
    next = { ...next, beforeSequence };
    await betweenPages();
  }
  throw new Error("paging did not end");
}

async function entryIdsInDatabase(accountId: string): Promise<string[]> {
  const rows = await database()
    .select({ id: ledgerEntries.id })
    .from(ledgerEntries)
    .where(eq(ledgerEntries.accountId, accountId))
    .orderBy(desc(ledgerEntries.entrySequence));
  return rows.map((row) => row.id);
}

beforeAll(async () => {
  await applyMigrations(databaseHandle());
  const seeded = await seedDemoData();
  const [first, second] = seeded.signIns.filter((signIn) => signIn.role === "customer");
  if (!first || !second) throw new Error("seed");
  const aliceId = await userIdFor(first.email);
  // A real session record, so that a second-factor confirmation can be bound to it for the held payment.
  const sessionId = crypto.randomUUID();
  await database().insert(sessions).values({ id: sessionId, userId: aliceId });
  const base = { kind: "customer" as const, role: "customer" as const, ipAddress: "198.51.100.7", userAgent: "test" };
  alice = { ...base, userId: aliceId, sessionId };
  bob = { ...base, userId: await userIdFor(second.email), sessionId: null };
  aliceChecking = (await seededAccount(alice.userId, "checking")).id;
  aliceSavings = (await seededAccount(alice.userId, "savings")).id;
  bobChecking = (await seededAccount(bob.userId, "checking")).id;
  payeeBob = await savePayee(alice, bobChecking, { name: "Bob Brennan" });
  for (let index = 0; index < 23; index += 1) await move("1.00", `batch ${index}`);
  await move("77.77", "Birthday present for Zoë");
  await postCustomerTransfer(alice, transferRequest({ fromAccountId: aliceChecking, to: { kind: "payee", payeeId: payeeBob }, amount: "12.50", memo: "Dinner split" }));
});

describe("paging through history", () => {
  it("returns every entry exactly once across pages while new transfers arrive", async () => {
    const before = await entryIdsInDatabase(aliceChecking);
    expect(before.length).toBeGreaterThan(20);
    const seen = await allPages(query({ accountId: aliceChecking, pageSize: 7 }), async () => {
      await move("0.01", "arrived while paging");
    });
    const ids = seen.map((entry) => entry.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toEqual(before);
    // The new entries are in the ledger, on the first page of a fresh query.
    const fresh = await listAccountHistory(alice, query({ accountId: aliceChecking, pageSize: 3 }));
    expect(fresh.entries[0]?.memo).toBe("arrived while paging");
  });

  it("pages over all of a customer's accounts, newest first, and never shows another customer's entries", async () => {
    const seen = await allPages(query({ pageSize: 50 }));
    const ownIds = new Set([aliceChecking, aliceSavings]);
    expect(seen.every((entry) => ownIds.has(entry.accountId))).toBe(true);
    const inDatabase = await database()
      .select({ id: ledgerEntries.id })
      .from(ledgerEntries)
      .where(inArray(ledgerEntries.accountId, [aliceChecking, aliceSavings]));
    expect(seen).toHaveLength(inDatabase.length);
    const times = seen.map((entry) => entry.postedAt.getTime());
    expect([...times].sort((first, second) => second - first)).toEqual(times);
  });

  it("refuses a cursor it did not issue", () => {
    expect(() => parseHistoryQuery({ cursor: "not a cursor" })).toThrow();
    expect(() => parseHistoryQuery({ cursor: Buffer.from("-5").toString("base64url") })).toThrow();
    expect(() => parseHistoryQuery({ cursor: Buffer.from("99999999999999999999").toString("base64url") })).toThrow();
  });
});

describe("filters", () => {
  it("filters by direction", async () => {
    const incoming = await allPages(query({ accountId: aliceSavings, direction: "in" }));
    const outgoing = await allPages(query({ accountId: aliceChecking, direction: "out" }));
    expect(incoming.length).toBeGreaterThan(20);
    expect(incoming.every((entry) => entry.amountMinor > 0n && entry.direction === "in")).toBe(true);
    expect(outgoing.length).toBeGreaterThan(20);
    expect(outgoing.every((entry) => entry.amountMinor < 0n && entry.direction === "out")).toBe(true);
  });

  it("filters on the absolute amount, both ends included", async () => {
    const exact = await allPages(parseHistoryQuery({ min: "77.77", max: "77.77" }));
    expect(exact.map((entry) => entry.amountMinor).sort(byAmount)).toEqual([-7777n, 7777n]);
    const range = await allPages(parseHistoryQuery({ account: aliceChecking, min: "10", max: "80" }));
    expect(range.map((entry) => entry.amountMinor).sort(byAmount)).toEqual([-7777n, -1250n]);
  });

  it("filters by UTC calendar days, both ends included", async () => {
    const today = new Date().toISOString().slice(0, 10);
    const tomorrow = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);
    const yesterday = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
    const [startOfToday, startOfTomorrow] = [new Date(`${today}T00:00:00Z`), new Date(`${tomorrow}T00:00:00Z`)];
    const todaysRows = await database()
      .select({ id: ledgerEntries.id })
      .from(ledgerEntries)
      .where(and(eq(ledgerEntries.accountId, aliceChecking), gte(ledgerEntries.createdAt, startOfToday), lt(ledgerEntries.createdAt, startOfTomorrow)));
    expect(await allPages(parseHistoryQuery({ account: aliceChecking, from: today, to: today }))).toHaveLength(todaysRows.length);
    expect(await allPages(parseHistoryQuery({ account: aliceChecking, from: tomorrow }))).toHaveLength(0);
    expect(await allPages(parseHistoryQuery({ account: aliceChecking, to: yesterday }))).toHaveLength(0);
    expect(() => parseHistoryQuery({ from: today, to: yesterday })).toThrow();
  });

  it("finds text in the decrypted memo, whatever its case", async () => {
    const found = await allPages(parseHistoryQuery({ text: "ZOË" }));
    expect(found).toHaveLength(2);
    expect(found.every((entry) => entry.memo === "Birthday present for Zoë")).toBe(true);
    expect(await allPages(parseHistoryQuery({ text: "no such reference anywhere" }))).toHaveLength(0);
  });

  it("stops a text search at its scan budget and hands back a cursor that continues it", async () => {
    const scan = { batchSize: 5, budgetRows: 10 };
    let next = parseHistoryQuery({ account: aliceChecking, text: "batch 0" });
    const first = await listAccountHistory(alice, next, scan);
    expect(first).toMatchObject({ entries: [], searchStoppedEarly: true });
    const found: HistoryEntry[] = [];
    let page = first;
    for (let round = 0; round < 100 && page.nextCursor !== null; round += 1) {
      const beforeSequence = decodeHistoryCursor(page.nextCursor);
      if (beforeSequence === null) throw new Error("unreadable cursor");
      next = { ...next, beforeSequence };
      page = await listAccountHistory(alice, next, scan);
      found.push(...page.entries);
    }
    expect(page.nextCursor).toBeNull();
    expect(found.map((entry) => entry.memo)).toEqual(["batch 0"]);
  });

  it("finds a payment by the payee's decrypted name, for the customer who saved the payee only", async () => {
    const found = await allPages(parseHistoryQuery({ text: "brennan" }));
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({ counterparty: "Bob Brennan", amountMinor: -1250n, memo: "Dinner split" });
    const bobsView = await listAccountHistory(bob, parseHistoryQuery({ account: bobChecking }));
    const received = bobsView.entries.find((entry) => entry.memo === "Dinner split");
    expect(received).toMatchObject({ counterparty: incomingFromCustomerLabel, amountMinor: 1250n, direction: "in" });
    expect((await listAccountHistory(bob, parseHistoryQuery({ text: "brennan" }))).entries).toHaveLength(0);
  });

  it("labels the bank's deposits and the customer's own accounts", async () => {
    const entries = await allPages(query({ accountId: aliceSavings }));
    const [savingsName] = await database().select({ nickname: accounts.nickname }).from(accounts).where(eq(accounts.id, aliceChecking));
    expect(entries.at(-1)).toMatchObject({ counterparty: bankCounterpartyLabel, transferKind: "deposit" });
    expect(entries[0]?.counterparty).toBe(savingsName?.nickname);
  });
});

describe("ownership", () => {
  it("answers not_found for another customer's account, everywhere, and returns none of its rows", async () => {
    await expect(listAccountHistory(alice, query({ accountId: bobChecking }))).rejects.toMatchObject({ code: "not_found" });
    await expect(listPendingTransfers(alice, bobChecking)).rejects.toMatchObject({ code: "not_found" });
    await expect(getMonthlyStatement(alice, bobChecking, new Date().toISOString().slice(0, 7))).rejects.toMatchObject({ code: "not_found" });
    await expect(listStatementMonths(alice, bobChecking)).rejects.toMatchObject({ code: "not_found" });
    await expect(historyCsvStream(alice, query({ accountId: bobChecking }))).rejects.toMatchObject({ code: "not_found" });
    await expect(listAccountHistory(alice, query({ accountId: crypto.randomUUID() }))).rejects.toMatchObject({ code: "not_found" });
  });
});

describe("held payments", () => {
  it("lists a held payment as pending for the sender only, and keeps it out of the ledger history", async () => {
    const held = transferRequest({ fromAccountId: aliceSavings, to: { kind: "payee", payeeId: payeeBob }, amount: "2600.00", memo: "Deposit on a car" });
    await database()
      .insert(stepUpConfirmations)
      .values({ id: crypto.randomUUID(), sessionId: alice.sessionId ?? "", payloadHash: transferConfirmationPayloadHash(held), confirmedAt: new Date() });
    const posted = await postCustomerTransfer(alice, held);
    expect(posted.status).toBe("held");
    const pending = await listPendingTransfers(alice);
    expect(pending).toEqual([
      expect.objectContaining({ transferId: posted.transferId, amountMinor: 260_000n, counterparty: "Bob Brennan", memo: "Deposit on a car" }),
    ]);
    expect(await listPendingTransfers(bob)).toHaveLength(0);
    const history = await allPages(query({ accountId: aliceSavings }));
    expect(history.some((entry) => entry.transferId === posted.transferId)).toBe(false);
  });
});

describe("reversals", () => {
  it("marks the original as reversed and shows the reversal to both customers without names", async () => {
    const admin = await database().select({ id: users.id }).from(users).where(eq(users.role, "admin"));
    const adminId = admin[0]?.id;
    if (!adminId) throw new Error("no admin in the seed");
    const paid = await postCustomerTransfer(alice, transferRequest({ fromAccountId: aliceChecking, to: { kind: "payee", payeeId: payeeBob }, amount: "3.00", memo: "Oops" }));
    const reversal = await reverseTransfer({ kind: "staff", role: "admin", userId: adminId, ipAddress: null, userAgent: null }, paid.transferId, "sent in error");
    const alicesView = await allPages(query({ accountId: aliceChecking }));
    expect(alicesView.find((entry) => entry.transferId === paid.transferId)).toMatchObject({ transferStatus: "reversed", amountMinor: -300n, memo: "Oops" });
    expect(alicesView.find((entry) => entry.transferId === reversal.reversalId)).toMatchObject({
      transferKind: "reversal",
      counterparty: reversedPaymentLabel,
      amountMinor: 300n,
    });
    const bobsView = (await listAccountHistory(bob, parseHistoryQuery({ account: bobChecking }))).entries;
    expect(bobsView.find((entry) => entry.transferId === reversal.reversalId)).toMatchObject({ counterparty: reversedPaymentLabel, amountMinor: -300n });
    expect(bobsView.find((entry) => entry.transferId === paid.transferId)).toMatchObject({ counterparty: incomingFromCustomerLabel });
  });
});

describe("statements", () => {
  it("opens at zero before the first entry, closes at the balance, and adds up", async () => {
    const month = new Date().toISOString().slice(0, 7);
    const statement = await getMonthlyStatement(alice, aliceChecking, month);
    const [account] = await database().select({ balance: accounts.balanceMinor }).from(accounts).where(eq(accounts.id, aliceChecking));
    const monthStart = new Date(`${month}-01T00:00:00Z`);
    const inMonth = await database()
      .select({ amountMinor: ledgerEntries.amountMinor })
      .from(ledgerEntries)
      .where(and(eq(ledgerEntries.accountId, aliceChecking), gte(ledgerEntries.createdAt, monthStart)))
      .orderBy(asc(ledgerEntries.entrySequence));
    expect(statement.openingBalanceMinor).toBe(0n);
    expect(statement.closingBalanceMinor).toBe(account?.balance);
    expect(statement.entries.map((entry) => entry.amountMinor)).toEqual(inMonth.map((row) => row.amountMinor));
    expect(statement.openingBalanceMinor + statement.totalInMinor - statement.totalOutMinor).toBe(statement.closingBalanceMinor);
    let running = statement.openingBalanceMinor;
    for (const entry of statement.entries) {
      running += entry.amountMinor;
      expect(entry.balanceAfterMinor).toBe(running);
    }
  });

  it("carries the closing balance into the next month and is empty before the account existed", async () => {
    const now = new Date();
    const next = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1)).toISOString().slice(0, 7);
    const previous = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - 1, 1)).toISOString().slice(0, 7);
    const current = await getMonthlyStatement(alice, aliceChecking, now.toISOString().slice(0, 7));
    const following = await getMonthlyStatement(alice, aliceChecking, next);
    expect(following).toMatchObject({ openingBalanceMinor: current.closingBalanceMinor, closingBalanceMinor: current.closingBalanceMinor, entries: [] });
    expect(await getMonthlyStatement(alice, aliceChecking, previous)).toMatchObject({ openingBalanceMinor: 0n, closingBalanceMinor: 0n, entries: [] });
    expect((await listStatementMonths(alice, aliceChecking)).months).toEqual([now.toISOString().slice(0, 7)]);
  });

  it("refuses a month that is not YYYY-MM", async () => {
    for (const month of ["2026-13", "2026-1", "26-01", "2026-01-01", "1999-12"]) {
      await expect(getMonthlyStatement(alice, aliceChecking, month)).rejects.toMatchObject({ code: "not_found" });
    }
  });
});

describe("CSV export", () => {
  it("streams every filtered entry with unsigned amounts and a direction column", async () => {
    const stream = await historyCsvStream(alice, parseHistoryQuery({ account: aliceChecking }));
    const text = await new Response(stream).text();
    const lines = text.split("\r\n").filter((line) => line !== "");
    const entries = await entryIdsInDatabase(aliceChecking);
    expect(lines).toHaveLength(entries.length + 1);
    expect(lines[0]).toMatch(/^Date \(UTC\),Account,/);
    expect(text).toContain(",out,77.77,GBP,");
    expect(text).not.toMatch(/,-\d/);
  });

  it("neutralises a reference that a spreadsheet would run as a formula", async () => {
    await move("0.02", '=HYPERLINK("https://evil.example","x")');
    const text = await new Response(await historyCsvStream(alice, parseHistoryQuery({ account: aliceChecking, text: "hyperlink" }))).text();
    expect(text).toContain(`,"'=HYPERLINK(""https://evil.example"",""x"")",`);
    expect(text.split("\r\n").filter((line) => line !== "")).toHaveLength(2);
  });

  it("is audited without the search text, and counted against the customer's own hourly export limit", async () => {
    const exportLimit = env().rateLimits.historyExportsPerHour;
    await historyCsvStream(bob, parseHistoryQuery({ account: bobChecking, text: "rent for march" }));
    const [audited] = await database()
      .select()
      .from(auditEvents)
      .where(and(eq(auditEvents.actorId, bob.userId), eq(auditEvents.action, "history.exported")));
    expect(audited).toMatchObject({ targetType: "account", targetId: bobChecking, details: { format: "csv", textSearch: true } });
    expect(JSON.stringify(audited?.details)).not.toContain("rent");

    for (let done = 1; done < exportLimit; done += 1) await historyCsvStream(bob, parseHistoryQuery({}));
    await expect(historyCsvStream(bob, parseHistoryQuery({}))).rejects.toMatchObject({ code: "rate_limited" });
    const exports = await database()
      .select({ sequence: auditEvents.sequence })
      .from(auditEvents)
      .where(and(eq(auditEvents.actorId, bob.userId), eq(auditEvents.action, "history.exported")));
    expect(exports).toHaveLength(exportLimit);
    // Another customer's budget is their own.
    await expect(historyCsvStream(alice, parseHistoryQuery({}))).resolves.toBeInstanceOf(ReadableStream);
  });
});
