/**
 * Global setup of the `integration-postgres` project. It runs once, in Vitest's main process, where the
 * application's `server-only` modules cannot be imported, so it talks to PostgreSQL through postgres.js only.
 *
 * It checks that the administrative connection works (so a missing server fails the run with one clear
 * sentence instead of one timeout per file), chooses a name prefix unique to this run and hands both to the
 * test files through `provide`. Each test file then creates its own fresh database under that prefix
 * (tests/helpers/integration-environment.ts) and drops it in afterAll; the teardown here drops whatever a
 * crashed file left behind, and only databases of this run, since other runs may be going on at the same time.
 * The same goes for each file's two roles (`<database>_owner`, `<database>_app`): roles belong to the whole
 * cluster, so they are dropped after the databases, by this run's prefix, and once stale like the databases.
 */
import crypto from "node:crypto";
import postgres from "postgres";
import type { TestProject } from "vitest/node";

declare module "vitest" {
  export interface ProvidedContext {
    /** Connection URL of a role that may create and drop databases. */
    postgresAdminUrl: string;
    /** `bank_it_<timestamp>_<random>`: every database this run creates starts with it. */
    postgresRunPrefix: string;
  }
}

export const defaultPostgresAdminUrl = "postgres://postgres@127.0.0.1:5432/postgres";

/** Databases named like ours but older than this belong to runs that were killed; they are dropped too. */
const staleAfterMilliseconds = 24 * 60 * 60 * 1000;

function adminClient(url: string) {
  return postgres(url, { max: 1, onnotice: () => undefined, connect_timeout: 10 });
}

async function dropDatabases(url: string, select: (name: string) => boolean): Promise<string[]> {
  const sql = adminClient(url);
  try {
    const rows = await sql<{ datname: string }[]>`select datname from pg_database where datname like 'bank\\_it\\_%'`;
    const dropped: string[] = [];
    for (const { datname } of rows) {
      // The name is interpolated as an identifier, so it is checked against the shape we create first.
      if (!/^bank_it_[0-9a-z_]+$/.test(datname) || !select(datname)) continue;
      await sql`drop database if exists ${sql(datname)} with (force)`;
      dropped.push(datname);
    }
    return dropped;
  } finally {
    await sql.end({ timeout: 5 });
  }
}

/** Drops the per-file roles (`bank_it_..._owner`, `bank_it_..._app`) that `select` picks; their databases must be gone. */
async function dropRoles(url: string, select: (name: string) => boolean): Promise<string[]> {
  const sql = adminClient(url);
  try {
    const rows = await sql<{ rolname: string }[]>`select rolname from pg_roles where rolname like 'bank\\_it\\_%'`;
    const dropped: string[] = [];
    for (const { rolname } of rows) {
      if (!/^bank_it_[0-9a-z_]+_(owner|app)$/.test(rolname) || !select(rolname)) continue;
      // Default privileges and grants in the connected database would block DROP ROLE; DROP OWNED clears them.
      await sql`drop owned by ${sql(rolname)}`;
      await sql`drop role if exists ${sql(rolname)}`;
      dropped.push(rolname);
    }
    return dropped;
  } finally {
    await sql.end({ timeout: 5 });
  }
}

function isStale(name: string, now: number): boolean {
  const timestamp = Number(/^bank_it_(\d{13})_/.exec(name)?.[1]);
  return Number.isFinite(timestamp) && now - timestamp > staleAfterMilliseconds;
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const adminUrl = process.env.TEST_POSTGRES_ADMIN_URL || defaultPostgresAdminUrl;
  const sql = adminClient(adminUrl);
  try {
    await sql`select 1`;
  } catch (cause) {
    const shownUrl = new URL(adminUrl);
    shownUrl.password = "";
    throw new Error(
      `integration-postgres: cannot connect to PostgreSQL at ${shownUrl.toString()} ` +
        "(start it, or point TEST_POSTGRES_ADMIN_URL at a role that may CREATE DATABASE)",
      { cause },
    );
  } finally {
    await sql.end({ timeout: 5 });
  }

  const now = Date.now();
  await dropDatabases(adminUrl, (name) => isStale(name, now));
  await dropRoles(adminUrl, (name) => isStale(name, now));

  const runPrefix = `bank_it_${now}_${crypto.randomBytes(4).toString("hex")}`;
  project.provide("postgresAdminUrl", adminUrl);
  project.provide("postgresRunPrefix", runPrefix);

  return async () => {
    const leftovers = await dropDatabases(adminUrl, (name) => name.startsWith(`${runPrefix}_`));
    if (leftovers.length > 0) {
      process.stderr.write(`integration-postgres: dropped databases left behind: ${leftovers.join(", ")}\n`);
    }
    const leftoverRoles = await dropRoles(adminUrl, (name) => name.startsWith(`${runPrefix}_`));
    if (leftoverRoles.length > 0) {
      process.stderr.write(`integration-postgres: dropped roles left behind: ${leftoverRoles.join(", ")}\n`);
    }
  };
}
