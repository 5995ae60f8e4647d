/**
 * The back office's audit trail (issue 9): the filtered, keyset-paginated listing, the chain's verification
 * status, the CSV export, and who may use them. Refusals are generated from the permission matrix
 * (lib/admin/permissions.ts), so a role that gains or loses audit.read or audit.export changes this test by
 * itself.
 */
import crypto from "node:crypto";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { database, databaseHandle, executeRows, openDatabase, type Database, type DatabaseHandle } from "@/db/client";
import { applyMigrations } from "@/db/migrations";
import { auditEventsCsvStream } from "@/lib/admin/audit/audit-events-csv";
import { listAuditEvents, type AuditEventView } from "@/lib/admin/audit/list-audit-events";
import { readAuditChainStatus } from "@/lib/admin/audit/read-chain-status";
import {
  adminActionPermissions,
  adminPagePermissions,
  adminRoutePermissions,
  permissionMatrix,
  roleHasPermission,
  type StaffPermission,
} from "@/lib/admin/permissions";
import { recordAuditEvent, type AuditEvent } from "@/lib/audit/record-audit-event";
import { sealAuditEvents, writeAuditCheckpointIfDue } from "@/lib/audit/seal-audit-events";
import { systemActor, type Actor, type StaffActor, type StaffRole } from "@/lib/auth/actor";
import {
  noAuditTrailFilters,
  parseAuditTrailQuery,
  type AuditTrailCursor,
  type AuditTrailFilters,
} from "@/lib/validation/audit-trail";
import { useIntegrationEnvironment } from "../helpers/integration-environment";

const environment = useIntegrationEnvironment();
const onPostgres = process.env.INTEGRATION_DATABASE === "postgres";

function staff(role: StaffRole): StaffActor {
  return { kind: "staff", userId: crypto.randomUUID(), role, ipAddress: "192.0.2.10", userAgent: "audit-trail-test" };
}
const auditor = staff("auditor");
const administrator = staff("admin");

/**
 * The tampering below is done as a database superuser, the attacker the chain defends against: the app's
 * restricted role may not disable the append-only trigger (see tests/integration/audit-chain.test.ts).
 */
let superuserHandle: DatabaseHandle | undefined;
function superuserDatabase(): Database {
  const adminDatabaseUrl = environment().adminDatabaseUrl;
  if (!onPostgres || !adminDatabaseUrl) return database();
  superuserHandle ??= openDatabase({ databaseUrl: adminDatabaseUrl, pgliteDirectory: "unused", maxConnections: 1 });
  return superuserHandle.db;
}
afterAll(async () => {
  await superuserHandle?.close();
});

async function write(event: Partial<AuditEvent> & { action: string }): Promise<void> {
  await database().transaction(async (tx) => {
    await recordAuditEvent(tx, { actorId: null, actorRole: "system", ipAddress: "192.0.2.1", userAgent: "writer", ...event });
  });
}

async function databaseNow(): Promise<Date> {
  const [row] = await executeRows<{ now: Date | string }>(database(), sql`SELECT clock_timestamp() AS now`);
  if (!row) throw new Error("no clock");
  return new Date(row.now);
}

function filters(overrides: Partial<AuditTrailFilters>): AuditTrailFilters {
  return { ...noAuditTrailFilters, ...overrides };
}

/** Every event matching the filters, page after page towards older ones, with the pages' sizes. */
async function walkOlder(matching: AuditTrailFilters): Promise<{ events: AuditEventView[]; pageSizes: number[] }> {
  const events: AuditEventView[] = [];
  const pageSizes: number[] = [];
  let cursor: AuditTrailCursor | undefined;
  for (let pages = 0; pages < 100; pages += 1) {
    const page = await listAuditEvents(auditor, matching, cursor);
    events.push(...page.events);
    pageSizes.push(page.events.length);
    if (page.olderCursor === null) return { events, pageSizes };
    cursor = page.olderCursor;
  }
  throw new Error("pagination did not end");
}

const actorA = crypto.randomUUID();
const actorB = crypto.randomUUID();
let middle: Date;

beforeAll(async () => {
  await applyMigrations(databaseHandle());
  await write({ action: "test.filter.one", actorId: actorA, actorRole: "admin", targetType: "user", targetId: "target-1" });
  await write({ action: "test.filter.two", actorId: actorB, actorRole: "support", targetType: "account", targetId: "target-2" });
  // A boundary in the database's own clock, strictly between the events above and below.
  await new Promise((resolve) => setTimeout(resolve, 20));
  middle = await databaseNow();
  await new Promise((resolve) => setTimeout(resolve, 20));
  await write({ action: "test.filter_x", actorId: actorA, actorRole: "admin", targetType: "user", targetId: "target-2" });
  await write({ action: "test.filters.three", actorId: null, actorRole: "system", details: { reason: "because", count: 3 } });
  for (let index = 0; index < 120; index += 1) {
    await write({ action: "test.page.event", targetType: "test", targetId: `page-${index}` });
  }
});

describe("listing the audit trail", () => {
  it("narrows by actor, exact action, action prefix, target type, target id and time", async () => {
    // Unless the action is the filter under test, every query is scoped to this test's events.
    const actions = async (matching: Partial<AuditTrailFilters>) => {
      const scoped = matching.action === undefined ? { action: "test.fil", actionIsPrefix: true, ...matching } : matching;
      return (await listAuditEvents(auditor, filters(scoped))).events.map((event) => event.action).sort();
    };

    expect(await actions({ actorId: actorA })).toEqual(["test.filter.one", "test.filter_x"]);
    expect(await actions({ action: "test.filter.two" })).toEqual(["test.filter.two"]);
    // A prefix ends at a dot, and `_` is matched literally, not as a LIKE wildcard.
    expect(await actions({ action: "test.filter.", actionIsPrefix: true })).toEqual(["test.filter.one", "test.filter.two"]);
    expect(await actions({ targetType: "user" })).toEqual(["test.filter.one", "test.filter_x"]);
    expect(await actions({ targetId: "target-2" })).toEqual(["test.filter.two", "test.filter_x"]);
    expect(await actions({ occurredBefore: middle })).toEqual(["test.filter.one", "test.filter.two"]);
    expect(await actions({ occurredFrom: middle })).toEqual(["test.filter_x", "test.filters.three"]);
    expect(await actions({ actorId: actorA, occurredFrom: middle })).toEqual(["test.filter_x"]);
  });

  it("parses the page's query string, reads times without an offset as UTC, and names the refused fields", () => {
    const parsed = parseAuditTrailQuery({ actor: actorA, action: "staff.", from: "2026-12-05T09:00", to: "", targetId: "x-1" });
    expect(parsed.filters).toMatchObject({ actorId: actorA, action: "staff.", actionIsPrefix: true, targetId: "x-1" });
    expect(parsed.filters.occurredFrom?.toISOString()).toBe("2026-12-05T09:00:00.000Z");
    expect(parsed.filters.occurredBefore).toBeUndefined();
    expect(() => parseAuditTrailQuery({ actor: "not-a-uuid", action: "DROP TABLE", from: "yesterday" })).toThrow(
      expect.objectContaining({
        code: "invalid_input",
        fieldErrors: expect.objectContaining({ actor: expect.any(Array), action: expect.any(Array), from: expect.any(Array) }),
      }),
    );
    expect(() => parseAuditTrailQuery({ from: "2026-12-05T10:00", to: "2026-12-05T09:00:00Z" })).toThrow(
      expect.objectContaining({ fieldErrors: { to: ["The end time must be after the start time."] } }),
    );
    expect(() => parseAuditTrailQuery({ unexpected: "1" })).toThrow(expect.objectContaining({ code: "invalid_input" }));
  });

  it("pages 50 at a time, newest first, with no gaps or duplicates either way", async () => {
    const matching = filters({ action: "test.page.event" });
    const { events, pageSizes } = await walkOlder(matching);
    expect(pageSizes).toEqual([50, 50, 20]);
    const sequences = events.map((event) => BigInt(event.sequence));
    expect(new Set(sequences).size).toBe(120);
    expect(sequences).toEqual([...sequences].sort((first, second) => (first > second ? -1 : first < second ? 1 : 0)));
    expect(events.map((event) => event.targetId)).toEqual(Array.from({ length: 120 }, (_, index) => `page-${119 - index}`));

    // Walking back towards newer pages from the last one gives the same pages again.
    const first = await listAuditEvents(auditor, matching);
    expect(first.newerCursor).toBeNull();
    const second = await listAuditEvents(auditor, matching, first.olderCursor ?? undefined);
    const third = await listAuditEvents(auditor, matching, second.olderCursor ?? undefined);
    expect(third.olderCursor).toBeNull();
    const backToSecond = await listAuditEvents(auditor, matching, third.newerCursor ?? undefined);
    expect(backToSecond.events.map((event) => event.sequence)).toEqual(second.events.map((event) => event.sequence));
    const backToFirst = await listAuditEvents(auditor, matching, backToSecond.newerCursor ?? undefined);
    expect(backToFirst.events.map((event) => event.sequence)).toEqual(first.events.map((event) => event.sequence));
    expect(backToFirst.newerCursor).toBeNull();
  });

  it("answers small DTOs: details as text, and whether each event is sealed yet", async () => {
    const [event] = (await listAuditEvents(auditor, filters({ action: "test.filters.three" }))).events;
    expect(event).toMatchObject({
      actorId: null,
      actorRole: "system",
      ipAddress: "192.0.2.1",
      userAgent: "writer",
      details: { reason: "because", count: "3" },
      sealed: false,
    });
    expect(Object.keys(event ?? {}).sort()).toEqual(
      ["action", "actorId", "actorRole", "details", "ipAddress", "occurredAt", "sealed", "sequence", "targetId", "targetType", "userAgent"].sort(),
    );
  });
});

describe("the chain's verification status", () => {
  it("is intact after sealing, reports a tampered event at its position, and caches a walk for a minute", async () => {
    const sealed = await sealAuditEvents(database(), { batchSize: 500, waitTimeoutMilliseconds: 5_000 });
    expect(sealed.outcome).toBe("sealed");
    expect(await writeAuditCheckpointIfDue(database(), "now")).not.toBeNull();

    const intact = await readAuditChainStatus(auditor, { maximumAgeMilliseconds: 0 });
    expect(intact).toMatchObject({ state: "ok", sealedEvents: sealed.sealedEvents, checkpointsVerified: 1, unsealedEvents: 0 });
    expect(intact.lastCheckpointAt).toBeInstanceOf(Date);
    const [listed] = (await listAuditEvents(auditor, filters({ action: "test.filters.three" }))).events;
    expect(listed?.sealed).toBe(true);

    const [victim] = await executeRows<{ sequence: string; position: string }>(
      database(),
      sql`SELECT link.sequence::text AS sequence, link.chain_position::text AS position
            FROM audit_chain_links AS link JOIN audit_events AS event ON event.sequence = link.sequence
           WHERE event.action = 'test.filter.two'`,
    );
    if (!victim) throw new Error("the event to tamper with is not sealed");
    const setTargetId = async (targetId: string) => {
      await superuserDatabase().transaction(async (tx) => {
        await tx.execute(sql`ALTER TABLE audit_events DISABLE TRIGGER ALL`);
        await tx.execute(sql`UPDATE audit_events SET target_id = ${targetId} WHERE sequence = ${victim.sequence}::bigint`);
        await tx.execute(sql`ALTER TABLE audit_events ENABLE TRIGGER ALL`);
      });
    };
    await setTargetId("target-3");
    try {
      // Within the minute, the page still shows the walk it made, and says when.
      const cachedAnswer = await readAuditChainStatus(auditor);
      expect(cachedAnswer.state).toBe("ok");
      expect(cachedAnswer.verifiedAt).toEqual(intact.verifiedAt);

      const broken = await readAuditChainStatus(auditor, { maximumAgeMilliseconds: 0 });
      expect(broken).toMatchObject({ state: "broken", problem: "event_altered", chainPosition: victim.position, sequence: victim.sequence });
      expect(JSON.stringify(broken)).not.toMatch(/[0-9a-f]{64}/);
    } finally {
      await setTargetId("target-2");
    }
    expect((await readAuditChainStatus(auditor, { maximumAgeMilliseconds: 0 })).state).toBe("ok");
  });
});

describe("the CSV export", () => {
  it("streams the filtered events with formula-looking cells neutralised, and audits the export with its filters", async () => {
    await write({
      action: "test.export.hostile",
      targetType: "user",
      targetId: "hostile-1",
      userAgent: '=HYPERLINK("https://evil.example","Click")',
      details: { note: "@SUM(A1:A2)" },
    });
    const matching = filters({ action: "test.export.", actionIsPrefix: true });
    const csv = await new Response(await auditEventsCsvStream(auditor, matching)).text();
    const lines = csv.trimEnd().split("\r\n");
    expect(lines[0]).toBe("Sequence,Time (UTC),Actor ID,Actor role,Action,Target type,Target ID,IP address,User agent,Details,Sealed");
    expect(lines).toHaveLength(2);
    expect(lines[1]).toContain(`"'=HYPERLINK(""https://evil.example"",""Click"")"`);
    expect(lines[1]).toContain("note=@SUM(A1:A2)");
    expect(lines[1]).not.toMatch(/,=|,@/);

    const [exported] = (await listAuditEvents(auditor, filters({ action: "staff.audit.exported", actorId: auditor.userId }))).events;
    expect(exported).toMatchObject({ actorRole: "auditor", details: { format: "csv", actionFilter: "test.export.", actorFilter: "" } });
  });

  it("exports every matching event, newest first, whatever the page size of the listing", async () => {
    const csv = await new Response(await auditEventsCsvStream(administrator, filters({ action: "test.page.event" }))).text();
    const targetIds = csv.trimEnd().split("\r\n").slice(1).map((line) => line.split(",")[6]);
    expect(targetIds).toEqual(Array.from({ length: 120 }, (_, index) => `page-${119 - index}`));
  });
});

describe("who may read and export the trail", () => {
  const roles = Object.keys(permissionMatrix) as StaffRole[];
  const customer: Actor = { kind: "customer", userId: crypto.randomUUID(), role: "customer", ipAddress: null, userAgent: null };
  const outsiders: [string, Actor | null][] = [
    ["signed out", null],
    ["a customer", customer],
    ["the system", systemActor("test")],
  ];
  const uses: [StaffPermission, (actor: Actor | null) => Promise<unknown>][] = [
    ["audit.read", (actor) => listAuditEvents(actor, noAuditTrailFilters)],
    ["audit.read", (actor) => readAuditChainStatus(actor)],
    ["audit.export", (actor) => auditEventsCsvStream(actor, noAuditTrailFilters)],
  ];
  const cases = uses.flatMap(([permission, use], index) => [
    ...outsiders.map(([label, actor]) => ({ label: `${label} (use ${index}, ${permission})`, actor, use, allowed: false })),
    ...roles.map((role) => ({
      label: `${role} (use ${index}, ${permission})`,
      actor: staff(role) as Actor,
      use,
      allowed: roleHasPermission(role, permission),
    })),
  ]);

  it("refuses, as not_found, everyone whose role lacks the permission (support and customers included)", async () => {
    expect(cases.some((entry) => entry.label.startsWith("support") && !entry.allowed)).toBe(true);
    for (const entry of cases) {
      const outcome = entry.use(entry.actor);
      if (entry.allowed) await expect(outcome, entry.label).resolves.toBeDefined();
      else await expect(outcome, entry.label).rejects.toMatchObject({ code: "not_found" });
    }
  });

  it("registers the page and the export route with the permissions they check", () => {
    expect(adminPagePermissions["/admin/audit"]).toBe("audit.read");
    expect(adminRoutePermissions["GET /admin/audit/export"]).toBe("audit.export");
  });

  it("gives the auditor no permission that changes anything (revealing a masked field is a recorded read)", () => {
    const readOnly = new Set<StaffPermission>(["audit.export", "customers.reveal_pii"]);
    for (const permission of permissionMatrix.auditor) {
      expect(/\.read(_|$)/.test(permission) || readOnly.has(permission), permission).toBe(true);
    }
    // No registered server action needs a permission the auditor holds, apart from the reveal.
    for (const [action, permission] of Object.entries(adminActionPermissions)) {
      if (permission === "customers.reveal_pii") continue;
      expect(roleHasPermission("auditor", permission), action).toBe(false);
    }
  });
});
