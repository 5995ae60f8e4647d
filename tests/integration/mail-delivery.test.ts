import { eq, isNotNull, sql, TransactionRollbackError } from "drizzle-orm";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { GET as getMailboxMessages } from "@/app/dev/mailbox/messages/route";
import { database, databaseHandle } from "@/db/client";
import { applyMigrations } from "@/db/migrations";
import { outbox } from "@/db/schema";
import { decryptField } from "@/lib/crypto";
import { forgetEnvironmentForTests } from "@/lib/env";
import { BankError } from "@/lib/errors";
import { logger } from "@/lib/logger";
import { deliveredBodyPlaceholder, deliverPendingEmails } from "@/lib/mail/deliver";
import { listDevelopmentMailbox } from "@/lib/mail/development-mailbox";
import { enqueueEmail } from "@/lib/mail/outbox";
import { maximumDeliveryAttempts } from "@/lib/mail/retry-schedule";
import { scheduleEmailDelivery, startEmailDeliveryPoller } from "@/lib/mail/schedule-delivery";
import type { EmailMessage } from "@/lib/mail/templates";
import { useIntegrationEnvironment } from "../helpers/integration-environment";
import { startTestSmtpServer, type TestSmtpServer, unusedPort } from "../helpers/smtp-server";

useIntegrationEnvironment();

const appOrigin = "https://localhost:8000";

/** Points env() at an SMTP server, or at none (which enables the development mailbox under NODE_ENV=test). */
function useMailConfiguration(settings: { smtpUrl: string | undefined }): void {
  if (settings.smtpUrl === undefined) Reflect.deleteProperty(process.env, "SMTP_URL");
  else process.env.SMTP_URL = settings.smtpUrl;
  forgetEnvironmentForTests();
}

function verificationMessage(token: string): EmailMessage & { link: string } {
  return { template: "email_verification", link: `${appOrigin}/verify-email?token=${token}`, expiresInMinutes: 1440 };
}

async function enqueueCommitted(email: string, message: EmailMessage): Promise<void> {
  await database().transaction(async (tx) => {
    await enqueueEmail(tx, { userId: null, email }, message);
  });
}

async function outboxRows() {
  return database().select().from(outbox).orderBy(outbox.createdAt);
}

async function onlyOutboxRow() {
  const rows = await outboxRows();
  expect(rows).toHaveLength(1);
  const [row] = rows;
  if (!row) throw new Error("expected one outbox row");
  return row;
}

function decryptBody(row: { id: string; bodyCiphertext: string }): Promise<string> {
  return decryptField(row.bodyCiphertext, { table: "outbox", column: "body", rowId: row.id });
}

function decryptRecipient(row: { id: string; recipientCiphertext: string }): Promise<string> {
  return decryptField(row.recipientCiphertext, { table: "outbox", column: "recipient", rowId: row.id });
}

/** Makes every pending row due now, as if its retry time had come. */
async function makeEverythingDue(): Promise<void> {
  await database()
    .update(outbox)
    .set({ nextAttemptAt: sql`now() - interval '1 second'` })
    .where(isNotNull(outbox.id));
}

async function waitUntil(condition: () => Promise<boolean>, timeoutMilliseconds: number): Promise<void> {
  const deadline = Date.now() + timeoutMilliseconds;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMilliseconds} ms`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

async function everyRowDelivered(): Promise<boolean> {
  const rows = await outboxRows();
  return rows.length > 0 && rows.every((row) => row.deliveredAt !== null);
}

beforeAll(async () => {
  await applyMigrations(databaseHandle());
});

beforeEach(async () => {
  await database().delete(outbox).where(isNotNull(outbox.id));
  useMailConfiguration({ smtpUrl: undefined });
});

afterEach(() => {
  vi.restoreAllMocks();
});

describe("enqueueEmail", () => {
  it("queues mail only when its transaction commits, with recipient and body encrypted", async () => {
    const rolledBack = database().transaction(async (tx) => {
      await enqueueEmail(tx, { userId: null, email: "first@example.com" }, verificationMessage("rolled-back-1"));
      await enqueueEmail(tx, { userId: null, email: "second@example.com" }, { template: "password_changed" });
      tx.rollback();
    });
    await expect(rolledBack).rejects.toBeInstanceOf(TransactionRollbackError);

    const committed = verificationMessage("committed-token");
    await enqueueCommitted("third@example.com", committed);

    const row = await onlyOutboxRow();
    expect(await decryptRecipient(row)).toBe("third@example.com");
    expect(row.subject).toBe("Confirm your email address");
    expect(row.template).toBe("email_verification");
    expect(await decryptBody(row)).toContain(committed.link);
    expect(row.recipientCiphertext).not.toContain("third@example.com");
    expect(row.bodyCiphertext).not.toContain("committed-token");
    expect(row).toMatchObject({ attempts: 0, deliveredAt: null, transport: null, lastError: null });
  });
});

describe("delivery over SMTP", () => {
  let smtp: TestSmtpServer;

  beforeAll(async () => {
    smtp = await startTestSmtpServer();
  });

  afterAll(async () => {
    await smtp?.stop();
  });

  beforeEach(() => {
    smtp.clear();
    useMailConfiguration({ smtpUrl: smtp.url });
  });

  it("sends the message to a real SMTP server, marks it delivered and removes the link from the stored body", async () => {
    const message = verificationMessage("smtp-token-4f2a");
    await enqueueCommitted("dora@example.com", message);

    const report = await deliverPendingEmails();

    expect(report).toEqual({ transport: "smtp", claimed: 1, delivered: 1, failed: 0, released: 0 });
    const [received] = await smtp.waitForMessages(1);
    expect(received?.headers.get("to")).toBe("dora@example.com");
    expect(received?.headers.get("from")).toBe("Bank <no-reply@bank.localhost>");
    expect(received?.headers.get("subject")).toBe("Confirm your email address");
    expect(received?.text).toContain(message.link);
    expect(received?.text).toContain("expires in 1440 minutes");

    const row = await onlyOutboxRow();
    expect(row.deliveredAt).toBeInstanceOf(Date);
    expect(row).toMatchObject({ transport: "smtp", attempts: 1, lastError: null });
    const storedBody = await decryptBody(row);
    expect(storedBody).toBe(deliveredBodyPlaceholder);
    expect(storedBody).not.toContain("smtp-token-4f2a");
  });

  it("does not send a delivered message again", async () => {
    await enqueueCommitted("erin@example.com", { template: "password_changed" });
    await deliverPendingEmails();
    await smtp.waitForMessages(1);
    await makeEverythingDue();

    const second = await deliverPendingEmails();

    expect(second.claimed).toBe(0);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(smtp.received()).toHaveLength(1);
  });

  it("sends each message exactly once when two deliveries run at the same time", async () => {
    const tokens = ["a1", "b2", "c3", "d4", "e5", "f6"].map((suffix) => `concurrent-${suffix}`);
    for (const token of tokens) await enqueueCommitted("fay@example.com", verificationMessage(token));

    const reports = await Promise.all([deliverPendingEmails({ batchSize: 4 }), deliverPendingEmails({ batchSize: 4 })]);
    // Whatever the first two runs left (at most nothing on PostgreSQL, where they overlap) goes in a third.
    const third = await deliverPendingEmails({ batchSize: 4 });

    const delivered = reports.reduce((total, report) => total + report.delivered, third.delivered);
    expect(delivered).toBe(tokens.length);
    const received = await smtp.waitForMessages(tokens.length);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(smtp.received()).toHaveLength(tokens.length);
    const receivedTokens = received.map((email) => /token=(concurrent-[a-z0-9]+)/.exec(email.text)?.[1]);
    expect(new Set(receivedTokens)).toEqual(new Set(tokens));
    const rows = await outboxRows();
    expect(rows.every((row) => row.transport === "smtp" && row.attempts === 1)).toBe(true);
  });

  it("keeps the message pending with a short, address-free error and a later retry when the server is down", async () => {
    useMailConfiguration({ smtpUrl: `smtp://127.0.0.1:${await unusedPort()}` });
    const warn = vi.spyOn(logger, "warn");
    await enqueueCommitted("gail@example.com", verificationMessage("down-token"));
    const before = Date.now();

    const report = await deliverPendingEmails();

    expect(report).toEqual({ transport: "smtp", claimed: 1, delivered: 0, failed: 1, released: 0 });
    const row = await onlyOutboxRow();
    expect(row).toMatchObject({ deliveredAt: null, transport: null, attempts: 1 });
    expect(row.lastError).toMatch(/^smtp: E[A-Z]+ ECONNREFUSED/);
    expect(row.lastError).not.toContain("gail");
    expect(row.lastError).not.toContain("@");
    expect(row.lastError?.length).toBeLessThanOrEqual(120);
    // The first retry waits 30 seconds.
    expect(row.nextAttemptAt.getTime()).toBeGreaterThan(before + 20_000);
    expect(row.nextAttemptAt.getTime()).toBeLessThan(Date.now() + 40_000);
    expect(await decryptBody(row)).toContain("down-token");
    expect(JSON.stringify(warn.mock.calls)).not.toContain("gail@example.com");

    // Not due yet: a second run right away leaves it alone.
    const second = await deliverPendingEmails();
    expect(second.claimed).toBe(0);
    expect((await onlyOutboxRow()).attempts).toBe(1);

    // Once the server is back and the retry is due, it goes out.
    useMailConfiguration({ smtpUrl: smtp.url });
    await makeEverythingDue();
    const third = await deliverPendingEmails();
    expect(third.delivered).toBe(1);
    expect((await smtp.waitForMessages(1))[0]?.text).toContain("down-token");
    expect(await onlyOutboxRow()).toMatchObject({ transport: "smtp", attempts: 2, lastError: null });
  });

  it(`gives up after ${maximumDeliveryAttempts} attempts and logs an error without the address`, async () => {
    useMailConfiguration({ smtpUrl: `smtp://127.0.0.1:${await unusedPort()}` });
    const error = vi.spyOn(logger, "error");
    await enqueueCommitted("hana@example.com", { template: "password_changed" });
    await database()
      .update(outbox)
      .set({ attempts: maximumDeliveryAttempts - 1 })
      .where(isNotNull(outbox.id));

    await deliverPendingEmails();

    expect((await onlyOutboxRow()).attempts).toBe(maximumDeliveryAttempts);
    const abandoned = error.mock.calls.filter((call) => String(call[1]).includes("abandoned"));
    expect(abandoned).toHaveLength(1);
    expect(JSON.stringify(abandoned)).not.toContain("hana");

    await makeEverythingDue();
    const later = await deliverPendingEmails();
    expect(later.claimed).toBe(0);
    const row = await onlyOutboxRow();
    expect(row).toMatchObject({ attempts: maximumDeliveryAttempts, deliveredAt: null });
  });

  it("answers not_found from the development mailbox and its JSON route while SMTP is configured", async () => {
    await enqueueCommitted("ivy@example.com", verificationMessage("hidden"));

    const listing = listDevelopmentMailbox(10);
    await expect(listing).rejects.toBeInstanceOf(BankError);
    await expect(listing).rejects.toMatchObject({ code: "not_found" });

    const response = await getMailboxMessages(new Request(`${appOrigin}/dev/mailbox/messages`));
    expect(response.status).toBe(404);
    expect(response.headers.get("cache-control")).toBe("no-store");
    expect(await response.text()).not.toContain("ivy");
  });
});

describe("the development mailbox", () => {
  it("is where mail goes when no SMTP server is configured: delivered, still encrypted, body kept", async () => {
    const message = verificationMessage("mailbox-token");
    await enqueueCommitted("jo@example.com", message);

    const report = await deliverPendingEmails();

    expect(report).toEqual({ transport: "mailbox", claimed: 1, delivered: 1, failed: 0, released: 0 });
    const row = await onlyOutboxRow();
    expect(row.deliveredAt).toBeInstanceOf(Date);
    expect(row).toMatchObject({ transport: "mailbox", attempts: 1, lastError: null });
    expect(row.bodyCiphertext).not.toContain("mailbox-token");
    expect(await decryptBody(row)).toContain(message.link);
  });

  it("lists messages newest first, decrypted, and filters by normalised recipient", async () => {
    await enqueueCommitted("kim@example.com", verificationMessage("older"));
    await new Promise((resolve) => setTimeout(resolve, 20));
    await enqueueCommitted("lee@example.com", { template: "password_changed" });
    await deliverPendingEmails();

    const messages = await listDevelopmentMailbox(10);

    expect(messages.map((message) => message.to)).toEqual(["lee@example.com", "kim@example.com"]);
    const [newest, oldest] = messages;
    expect(newest?.subject).toBe("Your password was changed");
    expect(oldest?.subject).toBe("Confirm your email address");
    expect(oldest?.text).toContain(`${appOrigin}/verify-email?token=older`);
    expect(oldest?.deliveredAt).toBeInstanceOf(Date);
    expect(oldest?.createdAt).toBeInstanceOf(Date);
    expect(Object.keys(newest ?? {}).sort()).toEqual(["createdAt", "deliveredAt", "id", "subject", "text", "to"]);

    expect(await listDevelopmentMailbox(1)).toHaveLength(1);
    const filtered = await listDevelopmentMailbox(10, { to: "  KIM@Example.com " });
    expect(filtered.map((message) => message.to)).toEqual(["kim@example.com"]);
    expect(await listDevelopmentMailbox(10, { to: "nobody@example.com" })).toEqual([]);
  });

  it("serves the messages as JSON with no-store, filtered by ?to=", async () => {
    await enqueueCommitted("max@example.com", verificationMessage("json-token"));
    await enqueueCommitted("ned@example.com", { template: "email_changed" });

    const all = await getMailboxMessages(new Request(`${appOrigin}/dev/mailbox/messages`));
    expect(all.status).toBe(200);
    expect(all.headers.get("cache-control")).toBe("no-store");
    const body = (await all.json()) as { messages: { to: string; text: string; deliveredAt: string | null; createdAt: string }[] };
    expect(body.messages).toHaveLength(2);

    const filtered = await getMailboxMessages(new Request(`${appOrigin}/dev/mailbox/messages?to=MAX%40example.com`));
    const filteredBody = (await filtered.json()) as typeof body;
    expect(filteredBody.messages.map((message) => message.to)).toEqual(["max@example.com"]);
    expect(filteredBody.messages[0]?.text).toContain("token=json-token");
    // Not delivered yet: the mailbox shows queued messages too, marked as waiting.
    expect(filteredBody.messages[0]?.deliveredAt).toBeNull();
    expect(Number.isNaN(Date.parse(filteredBody.messages[0]?.createdAt ?? ""))).toBe(false);

    const empty = await getMailboxMessages(new Request(`${appOrigin}/dev/mailbox/messages?to=`));
    expect(empty.status).toBe(422);
  });

  it("does not list messages that were sent over SMTP before the configuration changed", async () => {
    await enqueueCommitted("ola@example.com", { template: "password_changed" });
    await database().update(outbox).set({ transport: "smtp", deliveredAt: sql`now()` }).where(isNotNull(outbox.id));

    expect(await listDevelopmentMailbox(10)).toEqual([]);
  });
});

describe("delivery triggers", () => {
  it("scheduleEmailDelivery outside a request delivers at once", async () => {
    await enqueueCommitted("pia@example.com", { template: "password_changed" });

    scheduleEmailDelivery();

    await waitUntil(everyRowDelivered, 2_000);
    expect((await onlyOutboxRow()).transport).toBe("mailbox");
  });

  it("the poller delivers queued mail within its interval and stops when asked", async () => {
    const stop = startEmailDeliveryPoller(50);
    try {
      // A second start in the same process returns the running poller instead of starting another.
      expect(startEmailDeliveryPoller(50)).toBe(stop);
      await enqueueCommitted("quinn@example.com", { template: "password_changed" });
      await waitUntil(everyRowDelivered, 2_000);
    } finally {
      stop();
    }

    await enqueueCommitted("rhea@example.com", { template: "email_changed" });
    await new Promise((resolve) => setTimeout(resolve, 300));
    const rows = await outboxRows();
    const [pending] = await database()
      .select({ deliveredAt: outbox.deliveredAt })
      .from(outbox)
      .where(eq(outbox.subject, "Your email address was changed"));
    expect(rows).toHaveLength(2);
    expect(pending?.deliveredAt).toBeNull();
  });
});
