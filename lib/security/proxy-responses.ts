/**
 * Answers that proxy.ts gives by itself (refusals and throttling), before any page or route runs. No
 * `server-only`: proxy.ts uses it. Browsers get a small readable page, API clients RFC 9457 problem+json;
 * neither carries anything but the code and a sentence.
 */
import { staticSecurityHeaders } from "@/lib/security/content-security-policy";

const documentPolicy = "default-src 'none'; style-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (character) => `&#${character.charCodeAt(0)};`);
}

export function wantsHtml(requestHeaders: Headers, pathname: string): boolean {
  if (pathname.startsWith("/api/")) return false;
  return (requestHeaders.get("accept") ?? "").includes("text/html");
}

export function proxyRefusal(options: {
  status: number;
  code: string;
  title: string;
  html: boolean;
  headers?: Record<string, string>;
}): Response {
  const headers = new Headers(options.headers);
  for (const header of staticSecurityHeaders) headers.set(header.key, header.value);
  headers.set("cache-control", "no-store");
  if (options.html) {
    headers.set("content-type", "text/html; charset=utf-8");
    headers.set("content-security-policy", documentPolicy);
    const title = escapeHtml(options.title);
    const body =
      `<!doctype html><html lang="en-GB"><head><meta charset="utf-8"><title>${title}</title>` +
      `<link rel="stylesheet" href="/refusal.css"></head><body><main><h1>${title}</h1>` +
      `<p><a href="/">Back to Harbour Bank</a></p></main></body></html>`;
    return new Response(body, { status: options.status, headers });
  }
  headers.set("content-type", "application/problem+json; charset=utf-8");
  const problem = { type: "about:blank", title: options.title, status: options.status, code: options.code };
  return new Response(JSON.stringify(problem), { status: options.status, headers });
}
