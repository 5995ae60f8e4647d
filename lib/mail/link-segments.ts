/**
 * Splits a plain-text email body into text and links, for the development mailbox page. Free of
 * `server-only`: it is pure and unit-tested on its own.
 *
 * Only links to the bank's own origin become clickable. The mailbox shows whatever the outbox holds, and a
 * link to anywhere else (however it got into a message) must not be one click away on a page that is open
 * without signing in. The origin is compared after parsing, so "https://bank.example.evil.test/" does not
 * pass for "https://bank.example".
 */
export type BodySegment = { kind: "text"; text: string } | { kind: "link"; href: string };

const urlPattern = /https?:\/\/[^\s<>"']+/g;
// Sentence punctuation right after a link belongs to the sentence, not to the address.
const trailingPunctuation = /[.,;:!?)\]]+$/;

function sameOriginHref(candidate: string, appOrigin: string): string | undefined {
  let parsed: URL;
  try {
    parsed = new URL(candidate);
  } catch {
    // Not a URL after all (for example "https://" alone): it stays text.
    return undefined;
  }
  return parsed.origin === appOrigin ? parsed.href : undefined;
}

export function splitIntoLinkSegments(text: string, appOrigin: string): BodySegment[] {
  const segments: BodySegment[] = [];
  let pending = "";
  let position = 0;
  for (const match of text.matchAll(urlPattern)) {
    const address = match[0].replace(trailingPunctuation, "");
    const start = match.index;
    const href = sameOriginHref(address, appOrigin);
    pending += text.slice(position, start);
    if (href === undefined) {
      pending += address;
    } else {
      if (pending.length > 0) segments.push({ kind: "text", text: pending });
      pending = "";
      segments.push({ kind: "link", href });
    }
    position = start + address.length;
  }
  pending += text.slice(position);
  if (pending.length > 0) segments.push({ kind: "text", text: pending });
  return segments;
}
