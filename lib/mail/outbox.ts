import "server-only";
import crypto from "node:crypto";
import type { Queryable } from "@/db/client";
import { outbox } from "@/db/schema";
import { encryptField } from "@/lib/crypto";
import { type EmailMessage, renderEmail } from "@/lib/mail/templates";

/**
 * Queues an email in the caller's transaction (the outbox pattern): it is sent if and only if the change that
 * caused it commits. The recipient and body are encrypted like any other PII; the subject is fixed template
 * text. Delivery happens later, by lib/mail/deliver.ts.
 */
export async function enqueueEmail(
  queryable: Queryable,
  recipient: { userId: string | null; email: string },
  message: EmailMessage,
): Promise<void> {
  const id = crypto.randomUUID();
  const rendered = renderEmail(message);
  await queryable.insert(outbox).values({
    id,
    userId: recipient.userId,
    template: message.template,
    recipientCiphertext: await encryptField(recipient.email, { table: "outbox", column: "recipient", rowId: id }),
    subject: rendered.subject,
    bodyCiphertext: await encryptField(rendered.text, { table: "outbox", column: "body", rowId: id }),
  });
}
