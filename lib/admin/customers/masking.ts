/**
 * How the back office shows a customer's PII before anyone reveals it: enough to recognise the person on the
 * telephone ("the address starting with a, at example.com"), not enough to copy it anywhere. Pure functions,
 * used by the data layer before a DTO leaves the server; the full value never reaches the page unless a staff
 * member reveals that one field with a reason.
 */

const mask = "•••";

/** "alice@example.com" → "a•••@example.com". The domain stays: it is rarely personal and helps support. */
export function maskEmail(email: string): string {
  const at = email.lastIndexOf("@");
  if (at <= 0) return mask;
  return `${email.slice(0, 1)}${mask}${email.slice(at)}`;
}

/** "Alice Liddell" → "A••• L•••": the initials only. */
export function maskName(name: string): string {
  const initials = name
    .split(/\s+/)
    .filter((word) => word.length > 0)
    .map((word) => `${[...word][0] ?? ""}${mask}`);
  return initials.length > 0 ? initials.join(" ") : mask;
}

/** A date of birth is shown as on file, never in part: the year alone narrows a person down a lot. */
export function maskDate(): string {
  return "••••-••-••";
}

/** "+447700900123" → "•••••23": the last two digits, so a caller can be asked to confirm them. */
export function maskPhone(phone: string): string {
  const digits = phone.replace(/[^0-9]/g, "");
  return `${mask}${mask.slice(0, 2)}${digits.slice(-2)}`;
}

/** A postal address is shown only as on file, with its number of lines. */
export function maskPostalAddress(address: string): string {
  const lines = address.split("\n").filter((line) => line.trim().length > 0).length;
  return `${mask} (${lines} ${lines === 1 ? "line" : "lines"} on file)`;
}

/** The last four characters, as the customer's own profile shows them. */
export function maskNationalIdentifier(lastFour: string): string {
  return `${mask} ${lastFour}`;
}
