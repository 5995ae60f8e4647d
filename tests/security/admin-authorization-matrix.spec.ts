import fs from "node:fs";
import path from "node:path";
import { expect, test } from "@playwright/test";
import {
  adminActionPermissions,
  adminPagePermissions,
  adminRoutePermissions,
  roleHasPermission,
  type StaffPermission,
} from "../../lib/admin/permissions";
import { clientAddresses } from "./support/client-addresses";
import { alice, demoSignIn, securityOrigin } from "./support/environment";
import { CookieJar, rawRequest, type RawResponse, sameOriginHeaders } from "./support/raw-http";
import { sessionCookieName, signInThroughForm } from "./support/sign-in";

/**
 * The back office's authorization matrix, generated from lib/admin/permissions.ts and from the build itself:
 * every admin server action (from the build's server-reference manifest), every admin page (from the files in
 * app/admin) and every admin route handler, asked by a signed-out visitor, a customer and each staff role.
 * Whoever may not use it gets HTTP 404, exactly like an address that does not exist; whoever may gets past the
 * permission check (any answer but 404). Registries and code are checked against each other first, so a new
 * action, page or route without a decided permission fails here before it can ship.
 */

type Caller = "signed out" | "customer" | "support" | "auditor" | "admin";
const callers: readonly Caller[] = ["signed out", "customer", "support", "auditor", "admin"];
type StaffCaller = Extract<Caller, "support" | "auditor" | "admin">;

const staffEmails: Record<StaffCaller, string> = {
  support: "sam.support@example.com",
  auditor: "audrey.auditor@example.com",
  admin: "ada.admin@example.com",
};

const callerAddresses: Record<Caller, string> = {
  "signed out": clientAddresses.adminMatrixSignedOut,
  customer: clientAddresses.adminMatrixCustomer,
  support: clientAddresses.adminMatrixSupport,
  auditor: clientAddresses.adminMatrixAuditor,
  admin: clientAddresses.adminMatrixAdmin,
};

function isStaff(caller: Caller): caller is StaffCaller {
  return caller === "support" || caller === "auditor" || caller === "admin";
}

function mayUse(caller: Caller, permission: StaffPermission): boolean {
  return isStaff(caller) && roleHasPermission(caller, permission);
}

// ---- What the code holds: the server actions of the build, the pages and route handlers of app/admin. ----

const repositoryRoot = process.cwd();
const adminDirectory = path.join(repositoryRoot, "app", "admin");

interface ManifestAction {
  id: string;
  /** The source file, relative to the repository, with forward slashes. */
  filename: string;
  exportedName: string;
  /** The routes of the pages whose bundle holds the action (a POST to one of them runs it). */
  pages: string[];
}

interface ServerReferenceManifestEntry {
  filename?: string;
  exportedName?: string;
  workers?: Record<string, unknown>;
}

/**
 * The server actions the build registered (Next 16 writes each action's source file and exported name next to
 * its id in `.next/server/server-reference-manifest.json`, under `node` and, for edge code, `edge`).
 */
function buildServerActions(): ManifestAction[] {
  const file = path.join(repositoryRoot, ".next", "server", "server-reference-manifest.json");
  const manifest = JSON.parse(fs.readFileSync(file, "utf8")) as Record<string, unknown>;
  const actions: ManifestAction[] = [];
  for (const runtime of ["node", "edge"]) {
    const entries = (manifest[runtime] ?? {}) as Record<string, ServerReferenceManifestEntry>;
    for (const [id, entry] of Object.entries(entries)) {
      if (typeof entry.filename !== "string" || typeof entry.exportedName !== "string") {
        throw new Error(`the manifest entry of action ${id} names no file and export: has the manifest format changed?`);
      }
      const pages = Object.keys(entry.workers ?? {})
        .filter((worker) => worker.endsWith("/page"))
        .map((worker) => routeOf(path.join(repositoryRoot, worker)));
      actions.push({ id, filename: entry.filename.replaceAll("\\", "/"), exportedName: entry.exportedName, pages });
    }
  }
  return actions;
}

function adminActionsOfBuild(): ManifestAction[] {
  return buildServerActions().filter((action) => /(^|\/)app\/admin\//.test(action.filename));
}

function filesUnder(directory: string, name: RegExp): string[] {
  if (!fs.existsSync(directory)) return [];
  return fs
    .readdirSync(directory, { recursive: true, encoding: "utf8" })
    .filter((relative) => name.test(path.basename(relative)))
    .map((relative) => path.join(directory, relative));
}

/** `app/admin/(group)/customers/[customerId]/page.tsx` → `/admin/customers/[customerId]`. */
function routeOf(file: string): string {
  const segments = path
    .relative(path.join(repositoryRoot, "app"), path.dirname(file))
    .split(path.sep)
    .filter((segment) => !(segment.startsWith("(") && segment.endsWith(")")) && !segment.startsWith("@"));
  return `/${segments.join("/")}`;
}

function adminPagesOnDisk(): string[] {
  return filesUnder(adminDirectory, /^page\.(tsx|ts|jsx|js)$/).map(routeOf);
}

const httpMethods = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];

/** "GET /admin/audit/export" for each method each route.ts under app/admin exports. */
function adminRoutesOnDisk(): string[] {
  return filesUnder(adminDirectory, /^route\.(ts|js)$/).flatMap((file) => {
    const source = fs.readFileSync(file, "utf8");
    return httpMethods
      // eslint-disable-next-line security/detect-non-literal-regexp -- the method names are the fixed list above.
      .filter((method) => new RegExp(`export\\s+(async\\s+function|function|const|let)\\s+${method}\\b`).test(source))
      .map((method) => `${method} ${routeOf(file)}`);
  });
}

// ---- Callers: each signs in once, through the real forms, and keeps its cookie jar. ----

const jars = new Map<Caller, CookieJar>();

function jarOf(caller: Caller): CookieJar {
  const jar = jars.get(caller);
  if (!jar) throw new Error(`${caller} has not signed in`);
  return jar;
}

async function request(
  caller: Caller,
  options: { method?: string; path: string; headers?: Record<string, string>; body?: string },
): Promise<RawResponse> {
  const jar = jarOf(caller);
  const cookie = jar.header();
  const response = await rawRequest({
    method: options.method,
    path: options.path,
    from: callerAddresses[caller],
    headers: { accept: "text/html", ...(cookie === "" ? {} : { cookie }), ...options.headers },
    body: options.body,
  });
  // The proxy renews the session cookie on activity; keep the newest one like a browser would.
  jar.absorb(response.headers);
  return response;
}

/**
 * Calls a server action the way React's client does: a POST to a back-office page whose bundle holds it with the action's id in the
 * `Next-Action` header and the arguments encoded as a reply. The arguments are the form wrapper's `(previous
 * state, input)` with an empty input, so that an allowed caller gets `invalid_input` (or `step_up_required`)
 * from the action and nothing changes.
 */
function callAction(caller: Caller, actionId: string, pagePath: string): Promise<RawResponse> {
  return request(caller, {
    method: "POST",
    path: pagePath,
    headers: {
      ...sameOriginHeaders,
      accept: "text/x-component",
      "next-action": actionId,
      "content-type": "text/plain;charset=UTF-8",
    },
    body: JSON.stringify([null, {}]),
  });
}


test.beforeAll(async () => {
  test.setTimeout(120_000);
  jars.set("signed out", new CookieJar());
  jars.set("customer", await signInThroughForm(alice(), callerAddresses.customer));
  for (const role of ["support", "auditor", "admin"] as const) {
    jars.set(role, await signInThroughForm(demoSignIn(staffEmails[role]), callerAddresses[role]));
  }
});

// ---- The registries and the code agree. ----

test("every admin server action of the build has a permission, and every registered action exists", () => {
  const actions = adminActionsOfBuild();
  const exportedNames = new Set(actions.map((action) => action.exportedName));
  const unregistered = actions.filter((action) => !(action.exportedName in adminActionPermissions));
  expect(
    unregistered.map((action) => `${action.filename}: ${action.exportedName}`),
    "admin actions missing from adminActionPermissions",
  ).toEqual([]);
  const stale = Object.keys(adminActionPermissions).filter((name) => !exportedNames.has(name));
  expect(stale, "adminActionPermissions entries without an action under app/admin").toEqual([]);
});

test("every admin page has a permission, and every registered page exists", () => {
  const pages = adminPagesOnDisk();
  expect(pages, "app/admin has at least the overview").toContain("/admin");
  expect(pages.filter((route) => !(route in adminPagePermissions)), "pages missing from adminPagePermissions").toEqual([]);
  expect(
    Object.keys(adminPagePermissions).filter((route) => !pages.includes(route)),
    "adminPagePermissions entries without a page",
  ).toEqual([]);
});

test("every admin route handler has a permission, and every registered route exists", () => {
  const routes = adminRoutesOnDisk();
  expect(routes.filter((route) => !(route in adminRoutePermissions)), "routes missing from adminRoutePermissions").toEqual([]);
  expect(
    Object.keys(adminRoutePermissions).filter((route) => !routes.includes(route)),
    "adminRoutePermissions entries without a route handler",
  ).toEqual([]);
});

// ---- The matrix: every action, page and route × every caller. ----

// Built at collection time from the build and the registries, so that every new entry is covered without
// touching this file. A build is needed before the suite runs anyway (run.sh starts the built app).
const actionsById = (() => {
  try {
    return adminActionsOfBuild();
  } catch {
    // No build yet: the registry test above fails with the reason; the matrix has nothing to enumerate.
    return [];
  }
})();

for (const action of actionsById) {
  const permission = adminActionPermissions[action.exportedName];
  if (permission === undefined) continue;
  test(`action ${action.exportedName} (${permission})`, async () => {
    // A page of the action's own bundle: Next would otherwise forward the call to one itself.
    const route = action.pages.find((page) => !page.includes("[")) ?? action.pages[0] ?? "/admin";
    const pagePath = (await concretePath(route)) ?? placeholderPath(route);
    for (const caller of callers) {
      const response = await callAction(caller, action.id, pagePath);
      if (mayUse(caller, permission)) {
        expect(response.status, `${caller} may use ${action.exportedName}`).not.toBe(404);
        expect(response.status, `${caller} may use ${action.exportedName}`).toBeLessThan(500);
        // A notFound() inside the answer (rather than in its status) would still be a refusal.
        expect(response.body, `${caller} may use ${action.exportedName}`).not.toContain("NEXT_HTTP_ERROR_FALLBACK");
      } else {
        expect(response.status, `${caller} must get 404 from ${action.exportedName}`).toBe(404);
      }
    }
  });
}

/**
 * A concrete address for a page or route with dynamic segments: a link to it found on the back office's static
 * pages as an admin sees them (for example a customer's page linked from the customer list). Null when no page
 * links to one (then the allowed callers' check can only say "not a server error").
 */
async function concretePath(route: string): Promise<string | null> {
  if (!route.includes("[")) return route;
  // eslint-disable-next-line security/detect-non-literal-regexp -- built from the repository's own route names, escaped.
  const pattern = new RegExp(
    `href="(${route
      .split("/")
      .map((segment) => (segment.startsWith("[") ? "[^/\"?#]+" : segment.replace(/[.*+?^${}()|\\]/g, "\\$&")))
      .join("/")})"`,
  );
  for (const page of Object.keys(adminPagePermissions).filter((candidate) => !candidate.includes("["))) {
    const found = pattern.exec((await request("admin", { path: page })).body)?.[1];
    if (found) return found.replaceAll("&amp;", "&");
  }
  return null;
}

/** Where a placeholder for a dynamic segment goes when no real address is known: no record has this id. */
function placeholderPath(route: string): string {
  return route.replaceAll(/\[[^\]]+\]/g, "00000000-0000-4000-8000-000000000000");
}

for (const [route, permission] of Object.entries(adminPagePermissions)) {
  test(`page ${route} (${permission})`, async () => {
    const concrete = await concretePath(route);
    for (const caller of callers) {
      const response = await request(caller, { path: concrete ?? placeholderPath(route) });
      if (!mayUse(caller, permission)) {
        expect(response.status, `${caller} must get 404 from ${route}`).toBe(404);
      } else if (concrete) {
        expect(response.status, `${caller} may open ${route}`).toBe(200);
      } else {
        expect(response.status, `${caller} may open ${route}`).toBeLessThan(500);
      }
    }
  });
}

for (const [entry, permission] of Object.entries(adminRoutePermissions)) {
  const [method = "GET", route = "/admin"] = entry.split(" ");
  test(`route ${entry} (${permission})`, async () => {
    const concrete = await concretePath(route);
    const changes = method !== "GET" && method !== "HEAD";
    for (const caller of callers) {
      const response = await request(caller, {
        method,
        path: concrete ?? placeholderPath(route),
        headers: changes ? { ...sameOriginHeaders, "content-type": "application/x-www-form-urlencoded" } : {},
        body: changes ? "" : undefined,
      });
      if (mayUse(caller, permission)) {
        expect(response.status, `${caller} may use ${entry}`).not.toBe(404);
        expect(response.status, `${caller} may use ${entry}`).toBeLessThan(500);
      } else {
        expect(response.status, `${caller} must get 404 from ${entry}`).toBe(404);
      }
    }
  });
}

// ---- What the back office looks like from outside, and from inside. ----

/** The parts of a 404 page a person sees: its title and its main content (the nonce and the address differ). */
function visibleNotFound(response: RawResponse): { status: number; title: string; main: string } {
  return {
    status: response.status,
    title: /<title>([^<]*)<\/title>/.exec(response.body)?.[1] ?? "",
    main: /<main[\s\S]*?<\/main>/.exec(response.body)?.[0] ?? "",
  };
}

test("the back office's 404 is the site's ordinary 404, for signed-out visitors and customers alike", async () => {
  // The site has two kinds of 404: an address that matches no page, and a page that answers notFound() (for
  // example a statement of an account that is not the customer's). The back office must look like one of them.
  const unknownAddress = visibleNotFound(await request("customer", { path: "/no-such-page" }));
  const pageNotFound = visibleNotFound(await request("customer", { path: "/accounts/not-an-account/statements" }));
  expect(unknownAddress.status).toBe(404);
  expect(unknownAddress.main).toContain("Page not found");
  expect(pageNotFound.status).toBe(404);
  const observed: Record<string, string> = {};
  for (const caller of ["signed out", "customer"] as const) {
    // Every page of the back office (dynamic segments with a placeholder), and an address with no page at all.
    const targets = new Set([...Object.keys(adminPagePermissions).map(placeholderPath), "/admin/anything", "/admin/customers"]);
    for (const target of targets) {
      const response = await request(caller, { path: target });
      const visible = visibleNotFound(response);
      observed[`${caller} ${target}`] =
        JSON.stringify(visible) === JSON.stringify(unknownAddress)
          ? "unknown address"
          : JSON.stringify(visible) === JSON.stringify(pageNotFound)
            ? "page not found"
            : JSON.stringify(visible);
      expect(response.headers.location, `${caller} at ${target} is not redirected`).toBeUndefined();
      expect(response.body, `${caller} at ${target}`).not.toContain("Back office");
    }
  }
  expect(Object.values(observed).filter((kind) => kind !== "unknown address" && kind !== "page not found")).toEqual([]);
});

test("staff see only the sections their role may use, and the customer pages are a 404 for them", async () => {
  const sections: Record<string, StaffPermission> = {
    "/admin/customers": "customers.read",
    "/admin/transfers": "transfers.read_held",
    "/admin/staff": "staff.read",
    "/admin/audit": "audit.read",
  };
  for (const role of ["support", "auditor", "admin"] as const) {
    const overview = await request(role, { path: "/admin" });
    expect(overview.status).toBe(200);
    for (const [href, permission] of Object.entries(sections)) {
      expect(overview.body.includes(`href="${href}"`), `${role} and the ${href} link`).toBe(roleHasPermission(role, permission));
    }
    expect((await request(role, { path: "/" })).status, `${role} at the customer dashboard`).toBe(404);
    expect((await request(role, { path: "/payees" })).status, `${role} at the customer payees page`).toBe(404);
  }
});

test("an admin sees the overview's figures", async ({ browser }) => {
  const context = await browser.newContext();
  await context.addCookies([
    {
      name: sessionCookieName,
      value: jarOf("admin").get(sessionCookieName) ?? "",
      url: securityOrigin,
      secure: true,
      httpOnly: true,
      sameSite: "Lax",
    },
  ]);
  const page = await context.newPage();
  await page.goto("/admin");
  await expect(page.getByRole("heading", { name: "Overview" })).toBeVisible();
  await expect(page.getByText("Back office")).toBeVisible();
  // The seed has customers, and their deposits are money in minor units formatted like the customer pages.
  expect(Number(await page.getByTestId("overview-customers").innerText())).toBeGreaterThan(0);
  await expect(page.getByTestId("overview-deposit-total").first()).toHaveText(/\d[\d,]*\.\d{2}/);
  for (const figure of ["overview-transfers-today", "overview-held-transfers", "overview-locked-customers"]) {
    expect(await page.getByTestId(figure).innerText()).toMatch(/^\d+$/);
  }
  await expect(page.getByRole("button", { name: "Sign out" })).toBeVisible();
  await context.close();
});
