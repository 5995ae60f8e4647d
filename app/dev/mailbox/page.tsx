import type { Metadata } from "next";
import { notFound } from "next/navigation";
import { env } from "@/lib/env";
import { listDevelopmentMailbox } from "@/lib/mail/development-mailbox";
import { splitIntoLinkSegments } from "@/lib/mail/link-segments";

export const dynamic = "force-dynamic";
export const metadata: Metadata = { title: "Development mailbox" };

const shownMessages = 50;
// One fixed zone, so that the times read the same whatever the server's or the reader's zone is.
const timeFormat = new Intl.DateTimeFormat("en-GB", { dateStyle: "medium", timeStyle: "medium", timeZone: "UTC" });

function Timestamp({ value }: { value: Date }) {
  return <time dateTime={value.toISOString()}>{timeFormat.format(value)} UTC</time>;
}

function MessageBody({ text, appOrigin }: { text: string; appOrigin: string }) {
  return (
    <pre className="mail-body">
      {splitIntoLinkSegments(text, appOrigin).map((segment, index) =>
        segment.kind === "link" ? (
          <a key={index} href={segment.href}>
            {segment.href}
          </a>
        ) : (
          <span key={index}>{segment.text}</span>
        ),
      )}
    </pre>
  );
}

/**
 * The mail the bank would have sent, where no SMTP server is configured (development and the local demo).
 * Open without signing in, like a real inbox; a 404 wherever real mail is sent and in strict production.
 */
export default async function DevelopmentMailboxPage() {
  const configuration = env();
  if (!configuration.mail.developmentMailboxEnabled) notFound();
  const messages = await listDevelopmentMailbox(shownMessages);
  return (
    <main className="shell">
      <p className="brand">Harbour Bank</p>
      <h1>Development mailbox</h1>
      <p className="muted">
        The email the bank would have sent, newest first (at most {shownMessages}). This page exists only while no
        SMTP server is configured, and never in production.
      </p>
      {messages.length === 0 ? (
        <p className="card">No messages yet.</p>
      ) : (
        <ol className="mailbox" aria-label="Messages">
          {messages.map((message) => (
            <li key={message.id}>
              <article className="card" aria-labelledby={`subject-${message.id}`}>
                <h2 id={`subject-${message.id}`} className="mail-subject">
                  {message.subject}
                </h2>
                <dl className="mail-meta">
                  <dt>To</dt>
                  <dd>{message.to}</dd>
                  <dt>Written</dt>
                  <dd>
                    <Timestamp value={message.createdAt} />
                  </dd>
                  <dt>Delivered</dt>
                  <dd>{message.deliveredAt ? <Timestamp value={message.deliveredAt} /> : "Waiting for delivery"}</dd>
                </dl>
                <MessageBody text={message.text} appOrigin={configuration.appOrigin} />
              </article>
            </li>
          ))}
        </ol>
      )}
    </main>
  );
}
