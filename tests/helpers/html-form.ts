/**
 * Submitting the app's server-rendered forms without a browser, as a browser without JavaScript would: the
 * deploy test and the security suite sign in through the real sign-in form this way. Free of Playwright and
 * Vitest, so that the plain tsx scripts can use it too.
 */
import crypto from "node:crypto";

function decodeHtmlAttribute(value: string): string {
  return value
    .replaceAll("&quot;", '"')
    .replaceAll("&#x27;", "'")
    .replaceAll("&#39;", "'")
    .replaceAll("&lt;", "<")
    .replaceAll("&gt;", ">")
    .replaceAll("&amp;", "&");
}

/** The named inputs of the first form in a page, with their values, as a browser would submit them. */
export function formFields(html: string): Record<string, string> {
  const form = /<form[\s\S]*?<\/form>/.exec(html)?.[0];
  if (!form) throw new Error("no form in the page");
  const fields: Record<string, string> = {};
  for (const [input] of form.matchAll(/<input\b[^>]*>/g)) {
    const name = /\bname="([^"]*)"/.exec(input)?.[1];
    if (name === undefined) continue;
    fields[decodeHtmlAttribute(name)] = decodeHtmlAttribute(/\bvalue="([^"]*)"/.exec(input)?.[1] ?? "");
  }
  return fields;
}

/** The fields as a multipart/form-data body (what a progressively enhanced server-action form posts). */
export function multipartBody(fields: Record<string, string>): { body: string; contentType: string } {
  const boundary = `----bank-test-${crypto.randomBytes(8).toString("hex")}`;
  const parts = Object.entries(fields).map(
    ([name, value]) => `--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`,
  );
  return { body: `${parts.join("")}--${boundary}--\r\n`, contentType: `multipart/form-data; boundary=${boundary}` };
}
