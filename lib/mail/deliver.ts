import "server-only";
import { and, asc, eq, inArray, isNull, lt, lte, sql } from "drizzle-orm";
import nodemailer from "nodemailer";
import { database } from "@/db/client";
import { outbox } from "@/db/schema";
import { decryptField, encryptField } from "@/lib/crypto";
import { env } from "@/lib/env";
import { logger } from "@/lib/logger";
import { describeDeliveryError } from "@/lib/mail/delivery-error";
import { maximumDeliveryAttempts, retryDelaySeconds } from "@/lib/mail/retry-schedule";

/**
 * Sends what the outbox holds (lib/mail/outbox.ts writes it in the transaction of the change that causes it).
 *
 * Claiming and sending are separate steps. A short transaction picks the oldest due rows with
 * `FOR UPDATE SKIP LOCKED`, counts the attempt and moves `next_attempt_at` forward by a lease, then commits;
 * the messages are sent after that, outside any transaction. So:
 * - two processes (or two runs in one process) never pick the same row: the second skips rows the first has
 *   locked, and once the first commits the rows are no longer due;
 * - no transaction stays open while an SMTP server answers. PGlite runs one transaction at a time, and a
 *   slow mail server must not stall every request of the embedded bank behind it;
 * - a process that dies mid-send leaves its rows to be picked up again when the lease runs out, and
 *   `attempts` already counts the interrupted try, so a message that crashes its sender cannot loop forever.
 *
 * Delivery is therefore at least once: a crash between the SMTP server's acceptance and the update that
 * records it sends that message again. For single-use links and notices that is the right way round.
 */

export type TransportName = "smtp" | "mailbox";

export interface DeliveryOptions {
  /** How many due messages one run claims at most. */
  batchSize?: number;
}

export interface DeliveryReport {
  /** The transport this run used, or null when none is configured (rows stay pending). */
  transport: TransportName | null;
  claimed: number;
  delivered: number;
  failed: number;
  /** Claimed rows given back unsent because the run was close to the end of its lease. */
  released: number;
}

interface OutgoingEmail {
  to: string;
  subject: string;
  text: string;
}

interface Transport {
  readonly name: TransportName;
  /** Whether the stored body is replaced once the message has left (see `deliveredBodyPlaceholder`). */
  readonly removesBodyAfterSending: boolean;
  send(email: OutgoingEmail): Promise<void>;
}

interface ClaimedEmail {
  id: string;
  template: string;
  subject: string;
  recipientCiphertext: string;
  bodyCiphertext: string;
  /** Attempts including the one this run is making. */
  attempts: number;
}

const defaultBatchSize = 20;
const largestBatchSize = 100;
// Long enough for a batch of messages to a mail server that answers normally; a run that gets near the end
// of it stops and gives the rest back (see `perMessageBudgetMilliseconds`), so a row is never sent by two
// runs because the first was slow.
const leaseSeconds = 300;
// The SMTP timeouts below add up to 40 seconds for one message in the worst case; a run sends a message only
// while at least this much of its lease remains.
const perMessageBudgetMilliseconds = 60_000;
const smtpConnectionTimeoutMilliseconds = 10_000;
const smtpGreetingTimeoutMilliseconds = 10_000;
const smtpSocketTimeoutMilliseconds = 20_000;

/**
 * What `body_ciphertext` holds after a successful SMTP delivery. The body may carry a single-use link, which
 * has no reason to stay at rest once it has left; the column stays NOT NULL (the schema's promise that every
 * row has a body) and the placeholder is encrypted like any body, so the column never mixes plaintext in.
 */
export const deliveredBodyPlaceholder = "(delivered; body removed)";

function smtpTransport(smtpUrl: string, from: string): Transport {
  // A transport without a pool opens one connection per message and keeps nothing open between runs, so
  // there is nothing to close when the configuration changes or the process stops. TLS follows the URL:
  // smtps:// is TLS from the start; smtp:// upgrades with STARTTLS when the server offers it, and
  // `?requireTLS=true` on the URL refuses a server that does not.
  const transporter = nodemailer.createTransport({
    url: smtpUrl,
    connectionTimeout: smtpConnectionTimeoutMilliseconds,
    greetingTimeout: smtpGreetingTimeoutMilliseconds,
    socketTimeout: smtpSocketTimeoutMilliseconds,
    // Messages are plain strings; nodemailer must never read a file or fetch a URL named in one.
    disableFileAccess: true,
    disableUrlAccess: true,
  });
  return {
    name: "smtp",
    removesBodyAfterSending: true,
    async send(email) {
      const info = await transporter.sendMail({ from, to: email.to, subject: email.subject, text: email.text });
      if (info.rejected.length > 0 || info.accepted.length === 0) {
        // Only the fixed code is recorded (describeDeliveryError); the reply, which names the address, is not.
        throw Object.assign(new Error("the SMTP server did not accept the recipient"), { code: "EENVELOPE" });
      }
    },
  };
}

/**
 * The development mailbox: the outbox row itself, still encrypted, is the mailbox, read back by
 * listDevelopmentMailbox. "Sending" only marks the row delivered, and the body stays so that it can be read.
 */
const mailboxTransport: Transport = {
  name: "mailbox",
  removesBodyAfterSending: false,
  async send() {
    // Nothing leaves the machine: the row is what the development mailbox page shows.
  },
};

let warnedAboutMissingTransport = false;

function configuredTransport(): Transport | null {
  const { mail } = env();
  if (mail.smtpUrl) return smtpTransport(mail.smtpUrl, mail.from);
  if (mail.developmentMailboxEnabled) return mailboxTransport;
  return null;
}

function secondsFromNow(seconds: number) {
  return sql`now() + make_interval(secs => ${seconds})`;
}

async function claimDueEmails(batchSize: number): Promise<ClaimedEmail[]> {
  return database().transaction(async (tx) => {
    const due = await tx
      .select({
        id: outbox.id,
        template: outbox.template,
        subject: outbox.subject,
        recipientCiphertext: outbox.recipientCiphertext,
        bodyCiphertext: outbox.bodyCiphertext,
        attempts: outbox.attempts,
      })
      .from(outbox)
      .where(
        and(
          isNull(outbox.deliveredAt),
          lte(outbox.nextAttemptAt, sql`now()`),
          // Rows that used up their attempts stay in the table for a person to look at, but are not retried.
          lt(outbox.attempts, maximumDeliveryAttempts),
        ),
      )
      .orderBy(asc(outbox.createdAt), asc(outbox.id))
      .limit(batchSize)
      .for("update", { skipLocked: true });
    if (due.length === 0) return [];
    await tx
      .update(outbox)
      .set({ attempts: sql`${outbox.attempts} + 1`, nextAttemptAt: secondsFromNow(leaseSeconds) })
      .where(
        inArray(
          outbox.id,
          due.map((row) => row.id),
        ),
      );
    return due.map((row) => ({ ...row, attempts: row.attempts + 1 }));
  });
}

async function markDelivered(email: ClaimedEmail, transport: Transport, bodyCiphertext: string | undefined): Promise<void> {
  await database()
    .update(outbox)
    .set({
      deliveredAt: sql`now()`,
      transport: transport.name,
      lastError: null,
      ...(bodyCiphertext === undefined ? {} : { bodyCiphertext }),
    })
    .where(and(eq(outbox.id, email.id), isNull(outbox.deliveredAt)));
}

async function recordFailure(email: ClaimedEmail, transport: Transport, error: unknown): Promise<void> {
  const lastError = `${transport.name}: ${describeDeliveryError(error)}`;
  await database()
    .update(outbox)
    .set({ lastError, nextAttemptAt: secondsFromNow(retryDelaySeconds(email.attempts)) })
    .where(and(eq(outbox.id, email.id), isNull(outbox.deliveredAt)));
  const details = { outboxId: email.id, template: email.template, attempts: email.attempts, lastError };
  if (email.attempts >= maximumDeliveryAttempts) {
    logger.error(details, "email delivery abandoned: no attempts left; the message stays undelivered in the outbox");
  } else {
    logger.warn(details, "email delivery failed; it will be retried");
  }
}

/** Gives claimed rows back, due now and with the claim's attempt uncounted, because this run will not send them. */
async function releaseClaims(emails: ClaimedEmail[]): Promise<void> {
  await database()
    .update(outbox)
    .set({ attempts: sql`greatest(${outbox.attempts} - 1, 0)`, nextAttemptAt: sql`now()` })
    .where(
      and(
        inArray(
          outbox.id,
          emails.map((email) => email.id),
        ),
        isNull(outbox.deliveredAt),
      ),
    );
}

async function deliverOne(email: ClaimedEmail, transport: Transport): Promise<boolean> {
  let bodyAfterSending: string | undefined;
  try {
    const to = await decryptField(email.recipientCiphertext, { table: "outbox", column: "recipient", rowId: email.id });
    const text = await decryptField(email.bodyCiphertext, { table: "outbox", column: "body", rowId: email.id });
    // Encrypted before sending, so that once the server has accepted the message only one UPDATE is left
    // that could fail and cause it to be sent again.
    bodyAfterSending = transport.removesBodyAfterSending
      ? await encryptField(deliveredBodyPlaceholder, { table: "outbox", column: "body", rowId: email.id })
      : undefined;
    await transport.send({ to, subject: email.subject, text });
  } catch (error) {
    // A refusal by the mail server or an unreadable row: counted, described without PII, retried later.
    await recordFailure(email, transport, error);
    return false;
  }
  await markDelivered(email, transport, bodyAfterSending);
  return true;
}

/**
 * Sends the oldest due messages through the configured transport: SMTP when SMTP_URL is set, otherwise the
 * development mailbox where it is enabled. With neither, the rows stay pending and a warning is logged once.
 * Failures are recorded on their rows and never thrown; a database failure is thrown.
 */
export async function deliverPendingEmails(options: DeliveryOptions = {}): Promise<DeliveryReport> {
  const batchSize = Math.min(Math.max(Math.floor(options.batchSize ?? defaultBatchSize), 1), largestBatchSize);
  const transport = configuredTransport();
  if (!transport) {
    if (!warnedAboutMissingTransport) {
      warnedAboutMissingTransport = true;
      logger.warn("no mail transport: SMTP_URL is not set and the development mailbox is disabled; emails stay queued");
    }
    return { transport: null, claimed: 0, delivered: 0, failed: 0, released: 0 };
  }

  const claimed = await claimDueEmails(batchSize);
  const leaseEndsAt = Date.now() + leaseSeconds * 1000;
  const report: DeliveryReport = { transport: transport.name, claimed: claimed.length, delivered: 0, failed: 0, released: 0 };
  for (const [index, email] of claimed.entries()) {
    if (Date.now() + perMessageBudgetMilliseconds > leaseEndsAt) {
      const rest = claimed.slice(index);
      await releaseClaims(rest);
      report.released = rest.length;
      break;
    }
    if (await deliverOne(email, transport)) report.delivered += 1;
    else report.failed += 1;
  }
  return report;
}
