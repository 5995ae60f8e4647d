import "server-only";
import { desc, eq, isNull, or } from "drizzle-orm";
import { database } from "@/db/client";
import { outbox } from "@/db/schema";
import { decryptField, normaliseEmail } from "@/lib/crypto";
import { env } from "@/lib/env";
import { assert, BankError } from "@/lib/errors";

/** One message of the development mailbox, decrypted. */
export interface DevelopmentMailboxMessage {
  id: string;
  to: string;
  subject: string;
  text: string;
  createdAt: Date;
  /** Null while the message waits for the delivery run that puts it in the mailbox (within seconds). */
  deliveredAt: Date | null;
}

export interface DevelopmentMailboxFilter {
  /** Only messages to this address, compared after normalisation (case and Unicode form do not matter). */
  to?: string;
}

export const largestMailboxListing = 200;
// With a recipient filter the match happens after decryption, so more rows than asked for are read; this
// bounds the work of one request on a mailbox that has grown large.
const rowsScannedForFilter = 1000;

/**
 * The messages of the development mailbox, newest first: the outbox rows that went, or will go, to the mailbox
 * transport (rows sent over SMTP before the configuration changed are not mail of this mailbox).
 *
 * There is no actor: the mailbox exists only where mail cannot leave the machine (no SMTP_URL) and never in
 * strict production, and there it is deliberately readable without signing in, so that a developer, or an
 * end-to-end test, can follow a verification link. Everywhere else it answers not_found.
 */
export async function listDevelopmentMailbox(
  limit: number,
  filter: DevelopmentMailboxFilter = {},
): Promise<DevelopmentMailboxMessage[]> {
  if (!env().mail.developmentMailboxEnabled) {
    throw new BankError("not_found", { internalMessage: "the development mailbox is disabled in this configuration" });
  }
  assert(Number.isInteger(limit) && limit >= 1 && limit <= largestMailboxListing, "mailbox listing limit out of range");
  const wantedRecipient = filter.to === undefined ? undefined : normaliseEmail(filter.to);
  const rows = await database()
    .select({
      id: outbox.id,
      recipientCiphertext: outbox.recipientCiphertext,
      subject: outbox.subject,
      bodyCiphertext: outbox.bodyCiphertext,
      createdAt: outbox.createdAt,
      deliveredAt: outbox.deliveredAt,
    })
    .from(outbox)
    .where(or(isNull(outbox.transport), eq(outbox.transport, "mailbox")))
    .orderBy(desc(outbox.createdAt), desc(outbox.id))
    .limit(wantedRecipient === undefined ? limit : rowsScannedForFilter);

  const messages: DevelopmentMailboxMessage[] = [];
  for (const row of rows) {
    const to = await decryptField(row.recipientCiphertext, { table: "outbox", column: "recipient", rowId: row.id });
    if (wantedRecipient !== undefined && normaliseEmail(to) !== wantedRecipient) continue;
    const text = await decryptField(row.bodyCiphertext, { table: "outbox", column: "body", rowId: row.id });
    messages.push({ id: row.id, to, subject: row.subject, text, createdAt: row.createdAt, deliveredAt: row.deliveredAt });
    if (messages.length === limit) break;
  }
  return messages;
}
