/**
 * The short text stored in `outbox.last_error` when a delivery attempt fails. Free of `server-only` so that it
 * is unit-tested on its own.
 *
 * SMTP servers echo the recipient's address, and sometimes more, in their replies, and nodemailer copies
 * those replies into its error messages. That column is not encrypted and the text is also logged, so no
 * message text is ever kept: only fixed codes, each checked against a strict pattern — nodemailer's error code
 * (ECONNECTION, ESOCKET, EENVELOPE, ...), the numeric SMTP reply code, the operating system's error name
 * (ECONNREFUSED, ...) and the SMTP command that failed (CONN, RCPT TO, ...).
 */
import { getSystemErrorName } from "node:util";

const errorCodePattern = /^E[A-Z0-9_]{2,24}$/;
const smtpCommandPattern = /^[A-Z][A-Z ]{1,15}$/;

function readProperty(value: unknown, name: string): unknown {
  return typeof value === "object" && value !== null ? (value as Record<string, unknown>)[name] : undefined;
}

function systemErrorName(errno: unknown): string | undefined {
  if (typeof errno !== "number" || !Number.isInteger(errno) || errno >= 0) return undefined;
  try {
    return getSystemErrorName(errno);
  } catch {
    // Not an errno this platform knows: there is no name to record.
    return undefined;
  }
}

/** A non-secret description of why a delivery attempt failed, at most 100 characters. */
export function describeDeliveryError(error: unknown): string {
  const parts: string[] = [];
  const add = (part: string | undefined) => {
    if (part !== undefined && !parts.includes(part)) parts.push(part);
  };
  const code = readProperty(error, "code");
  if (typeof code === "string" && errorCodePattern.test(code)) add(code);
  const responseCode = readProperty(error, "responseCode");
  if (typeof responseCode === "number" && Number.isInteger(responseCode) && responseCode >= 200 && responseCode < 600) {
    add(`reply ${responseCode}`);
  }
  // nodemailer replaces a socket error's code (ECONNREFUSED) with its own (ESOCKET) but keeps the errno.
  const systemName = systemErrorName(readProperty(error, "errno"));
  if (systemName && errorCodePattern.test(systemName)) add(systemName);
  const causeCode = readProperty(readProperty(error, "cause"), "code");
  if (typeof causeCode === "string" && errorCodePattern.test(causeCode)) add(causeCode);
  const command = readProperty(error, "command");
  if (parts.length > 0 && typeof command === "string" && smtpCommandPattern.test(command)) add(`during ${command}`);
  if (parts.length > 0) return parts.join(" ").slice(0, 100);
  return error instanceof Error && /^[A-Za-z]{1,40}$/.test(error.name) ? error.name : "unknown error";
}
