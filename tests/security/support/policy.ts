import { expect } from "@playwright/test";
import type { IncomingHttpHeaders } from "node:http";
import { headerValue } from "./raw-http";

/** A Content-Security-Policy parsed into directive name → source list. */
export function parsePolicy(policy: string): Map<string, string[]> {
  const directives = new Map<string, string[]>();
  for (const part of policy.split(";")) {
    const [name, ...values] = part.trim().split(/\s+/);
    if (name && !directives.has(name.toLowerCase())) directives.set(name.toLowerCase(), values);
  }
  return directives;
}

export function nonceOf(policy: string | undefined): string {
  const match = /'nonce-([^']+)'/.exec(policy ?? "");
  if (!match?.[1]) throw new Error(`no nonce in the CSP: ${policy}`);
  return match[1];
}

/** The application's policy: nonce-based, strict-dynamic, nothing inline or eval'd, no plugins, no framing. */
export function expectStrictNoncePolicy(policy: string | undefined, where: string): void {
  expect(policy, `${where}: a Content-Security-Policy header`).toBeTruthy();
  const directives = parsePolicy(policy ?? "");
  const scriptSources = directives.get("script-src") ?? [];
  expect(directives.get("default-src"), `${where}: default-src`).toEqual(["'self'"]);
  expect(scriptSources, `${where}: script-src strict-dynamic`).toContain("'strict-dynamic'");
  expect(scriptSources.some((source) => /^'nonce-[A-Za-z0-9+/_-]{22,}={0,2}'$/.test(source)), `${where}: a nonce of 128 bits or more`).toBe(true);
  for (const unsafe of ["'unsafe-inline'", "'unsafe-eval'", "'unsafe-hashes'", "*", "data:", "https:", "http:"]) {
    expect(scriptSources, `${where}: script-src without ${unsafe}`).not.toContain(unsafe);
  }
  expect(directives.get("object-src"), `${where}: object-src`).toEqual(["'none'"]);
  expect(directives.get("base-uri"), `${where}: base-uri`).toEqual(["'none'"]);
  expect(directives.get("frame-ancestors"), `${where}: frame-ancestors`).toEqual(["'none'"]);
  expect(directives.get("form-action"), `${where}: form-action`).toEqual(["'self'"]);
  expect(directives.has("upgrade-insecure-requests"), `${where}: upgrade-insecure-requests`).toBe(true);
  // A report-only header would not enforce anything, and the enforced one must not be weakened by a second one.
  expect(policy, `${where}: one policy`).not.toContain(",");
}

/** The policy of the proxy's own refusal pages: no script at all, no framing, no forms. */
export function expectScriptlessPolicy(policy: string | undefined, where: string): void {
  expect(policy, `${where}: a Content-Security-Policy header`).toBeTruthy();
  const directives = parsePolicy(policy ?? "");
  expect(directives.get("default-src"), `${where}: default-src`).toEqual(["'none'"]);
  expect(directives.has("script-src"), `${where}: no script-src loosening default-src 'none'`).toBe(false);
  expect(directives.get("frame-ancestors"), `${where}: frame-ancestors`).toEqual(["'none'"]);
  expect(directives.get("base-uri"), `${where}: base-uri`).toEqual(["'none'"]);
  expect(policy ?? "", `${where}: nothing unsafe`).not.toMatch(/unsafe-/);
}

/** The headers every answer of the bank carries, whatever produced it. */
export function expectStaticSecurityHeaders(headers: IncomingHttpHeaders, where: string): void {
  expect(headerValue(headers, "strict-transport-security"), `${where}: HSTS`).toBe("max-age=31536000; includeSubDomains; preload");
  expect(headerValue(headers, "x-content-type-options"), `${where}: nosniff`).toBe("nosniff");
  expect(headerValue(headers, "referrer-policy"), `${where}: Referrer-Policy`).toMatch(
    /^(no-referrer|same-origin|strict-origin|strict-origin-when-cross-origin)$/,
  );
  const permissions = headerValue(headers, "permissions-policy") ?? "";
  for (const feature of ["camera", "microphone", "geolocation", "payment"]) {
    expect(permissions, `${where}: Permissions-Policy denies ${feature}`).toContain(`${feature}=()`);
  }
  expect(headerValue(headers, "cross-origin-opener-policy"), `${where}: COOP`).toBe("same-origin");
  expect(headerValue(headers, "cross-origin-resource-policy"), `${where}: CORP`).toBe("same-origin");
  expect(headerValue(headers, "x-frame-options"), `${where}: X-Frame-Options`).toBe("DENY");
  expect(headerValue(headers, "x-powered-by"), `${where}: no X-Powered-By`).toBeUndefined();
  expect(headerValue(headers, "server"), `${where}: no Server header`).toBeUndefined();
}
