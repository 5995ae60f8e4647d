/**
 * The two PostgreSQL roles the bank uses, and the privileges that keep them apart.
 *
 * - The owner role (DATABASE_OWNER_ROLE, default `bank_owner`) owns the database, the tables, the triggers and
 *   the ledger's functions. Migrations connect as it (MIGRATION_DATABASE_URL).
 * - The runtime role (DATABASE_RUNTIME_ROLE, default `bank_app`) is what the app connects as (DATABASE_URL).
 *   It may read and write rows and call the ledger's functions, nothing else: no CREATE on the schema, no
 *   TRUNCATE, REFERENCES or TRIGGER on any table, and on the append-only tables only SELECT and INSERT. Since
 *   only a table's owner (or a superuser) may ALTER it, the runtime role cannot disable or drop the triggers
 *   that keep history append-only, and `session_replication_role` (which would skip them) is superuser-only.
 *
 * Creating the roles is setup (`npm run db:roles`, with an administrative connection), not a drizzle migration:
 * roles are cluster-wide, their names come from configuration, and the integration tests create their own
 * roles per test file on the shared server.
 *
 * This file deliberately does not import `server-only` (like lib/env-schema.ts): server.ts, which runs outside
 * Next's server build, calls `findRuntimeRoleProblems` before it starts listening, and the script and the
 * test harness call the rest. It talks to PostgreSQL through postgres.js only, and builds no SQL from strings:
 * role, database and table names are validated and then passed as postgres.js identifiers, which quote them.
 */
import crypto from "node:crypto";
import type postgres from "postgres";
import { connectPostgres } from "./postgres-connection";

/**
 * Role and database names the setup accepts: lower-case, as PostgreSQL folds unquoted names, so that an
 * operator's psql session and the configuration mean the same role; at most 63 bytes (NAMEDATALEN - 1).
 */
export const databaseIdentifierPattern = /^[a-z_][a-z0-9_]{0,62}$/;

export function assertDatabaseIdentifier(name: string, description: string): string {
  if (!databaseIdentifierPattern.test(name)) {
    throw new Error(
      `${description} "${name}" is not allowed: use 1 to 63 lower-case letters, digits and underscores, starting with a letter or underscore`,
    );
  }
  return name;
}

/**
 * The trigger function of drizzle/0001 that refuses UPDATE and DELETE. Every table one of its triggers guards
 * is append-only, and the runtime role gets SELECT and INSERT on it only: defence in depth, since even with
 * the trigger disabled by someone who can, the app's own connection could not rewrite history.
 */
const appendOnlyTriggerFunction = "refuse_change_to_history";

export interface DatabaseRolesPlan {
  /** The database the bank's tables live in (created, owned by the owner role, when it does not exist). */
  databaseName: string;
  ownerRole: string;
  runtimeRole: string;
  /** When given, the role's password is set to it (as a SCRAM-SHA-256 verifier; the password itself never reaches the server). */
  ownerPassword?: string | undefined;
  runtimePassword?: string | undefined;
}

export interface DatabaseRolesOutcome {
  createdRoles: string[];
  databaseCreated: boolean;
  /** Tables on which the runtime role has SELECT and INSERT only. */
  appendOnlyTables: string[];
}

function connect(url: string) {
  return connectPostgres(url, { max: 1, connect_timeout: 10 });
}

function withDatabase(url: string, databaseName: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${encodeURIComponent(databaseName)}`;
  return parsed.toString();
}

/**
 * A SCRAM-SHA-256 password verifier in PostgreSQL's stored form (RFC 5802/7677 with 4096 iterations, as
 * PostgreSQL computes it). ALTER ROLE ... PASSWORD accepts it as is, so the plaintext never travels to the
 * server and cannot show up in its statement log. PostgreSQL normalises passwords with SASLprep; for
 * printable ASCII that is the identity, so other characters are refused rather than hashed differently.
 */
export function scramSha256Verifier(password: string): string {
  if (!/^[\x21-\x7e]{16,256}$/.test(password)) {
    throw new Error("database role passwords must be 16 to 256 printable ASCII characters without spaces");
  }
  const iterations = 4096;
  const salt = crypto.randomBytes(16);
  const saltedPassword = crypto.pbkdf2Sync(password, salt, iterations, 32, "sha256");
  const clientKey = crypto.createHmac("sha256", saltedPassword).update("Client Key").digest();
  const storedKey = crypto.createHash("sha256").update(clientKey).digest();
  const serverKey = crypto.createHmac("sha256", saltedPassword).update("Server Key").digest();
  return `SCRAM-SHA-256$${iterations}:${salt.toString("base64")}$${storedKey.toString("base64")}:${serverKey.toString("base64")}`;
}

async function ensureRole(sql: postgres.Sql, role: string, password: string | undefined): Promise<boolean> {
  const [existing] = await sql<{ exists: boolean }[]>`select exists (select 1 from pg_roles where rolname = ${role}) as exists`;
  const created = !existing?.exists;
  if (created) await sql`create role ${sql(role)} login`;
  // Applied to existing roles too, so that re-running the setup also takes back powers granted by hand since.
  await sql`alter role ${sql(role)} login nosuperuser nocreatedb nocreaterole noreplication nobypassrls inherit`;
  if (typeof password === "string") {
    const verifier = scramSha256Verifier(password);
    // ALTER ROLE takes no bind parameters, so the name and verifier travel as parameters of set_config and
    // the server quotes them itself (format's %I and %L) inside one transaction.
    await sql.begin(async (transaction) => {
      await transaction`select set_config('bank.setup_role', ${role}, true), set_config('bank.setup_verifier', ${verifier}, true)`;
      await transaction`do $$ begin
        execute format('alter role %I password %L', current_setting('bank.setup_role'), current_setting('bank.setup_verifier'));
      end $$`;
    });
  }
  return created;
}

/**
 * Grants the runtime role what it needs on every object that exists now, and withdraws what it must not
 * have. Safe to run any number of times. It runs twice in a deployment's life cycle: in `db:roles`, and at
 * the end of every `db:migrate` (as the owner), because default privileges give a new append-only table
 * the same UPDATE and DELETE as every other new table, and only a table's existence lets them be taken back.
 */
export async function grantRuntimePrivileges(sql: postgres.Sql, runtimeRole: string): Promise<string[]> {
  assertDatabaseIdentifier(runtimeRole, "runtime role");
  const runtime = sql(runtimeRole);
  await sql`grant usage on schema public to ${runtime}`;
  await sql`grant select, insert, update, delete on all tables in schema public to ${runtime}`;
  await sql`revoke truncate, references, trigger on all tables in schema public from ${runtime}`;
  await sql`grant usage, select on all sequences in schema public to ${runtime}`;
  await sql`grant execute on all functions in schema public to ${runtime}`;
  const appendOnly = await sql<{ table_name: string }[]>`
    select distinct c.relname::text as table_name
      from pg_trigger t
      join pg_class c on c.oid = t.tgrelid
      join pg_namespace n on n.oid = c.relnamespace
      join pg_proc p on p.oid = t.tgfoid
     where n.nspname = 'public' and p.proname = ${appendOnlyTriggerFunction} and not t.tgisinternal
     order by 1`;
  for (const { table_name: tableName } of appendOnly) {
    await sql`revoke update, delete on table ${sql(tableName)} from ${runtime}`;
  }
  return appendOnly.map((row) => row.table_name);
}

/**
 * Creates (or brings back in line) the owner and runtime roles and the bank's database, over an administrative
 * connection: a superuser, since ALTER DEFAULT PRIVILEGES FOR ROLE needs a superuser or a member of the owner
 * role, and PostgreSQL 15 does not make the creator of a role (with CREATEROLE) its member. Idempotent.
 */
export async function createDatabaseRoles(adminUrl: string, plan: DatabaseRolesPlan): Promise<DatabaseRolesOutcome> {
  const databaseName = assertDatabaseIdentifier(plan.databaseName, "database name");
  const ownerRole = assertDatabaseIdentifier(plan.ownerRole, "owner role");
  const runtimeRole = assertDatabaseIdentifier(plan.runtimeRole, "runtime role");
  if (ownerRole === runtimeRole) throw new Error("the owner role and the runtime role must be two different roles");

  const createdRoles: string[] = [];
  let databaseCreated = false;
  const cluster = connect(adminUrl);
  try {
    if (await ensureRole(cluster, ownerRole, plan.ownerPassword)) createdRoles.push(ownerRole);
    if (await ensureRole(cluster, runtimeRole, plan.runtimePassword)) createdRoles.push(runtimeRole);
    // Membership in the owner role would hand the runtime role every owner right (ALTER TABLE included).
    const [membership] = await cluster<{ member: boolean }[]>`select pg_has_role(${runtimeRole}, ${ownerRole}, 'MEMBER') as member`;
    if (membership?.member) await cluster`revoke ${cluster(ownerRole)} from ${cluster(runtimeRole)}`;
    const [database] = await cluster<{ exists: boolean }[]>`select exists (select 1 from pg_database where datname = ${databaseName}) as exists`;
    if (!database?.exists) {
      // template0 guarantees an empty database even if someone has added objects to template1.
      await cluster`create database ${cluster(databaseName)} owner ${cluster(ownerRole)} template template0 encoding 'UTF8'`;
      databaseCreated = true;
    }
    // For a database that already existed under another owner, the owner role still needs to create the
    // drizzle schema and the tables.
    await cluster`grant connect, create, temporary on database ${cluster(databaseName)} to ${cluster(ownerRole)}`;
    await cluster`grant connect on database ${cluster(databaseName)} to ${cluster(runtimeRole)}`;
  } finally {
    await cluster.end({ timeout: 5 });
  }

  const bankDatabase = connect(withDatabase(adminUrl, databaseName));
  try {
    const owner = bankDatabase(ownerRole);
    const runtime = bankDatabase(runtimeRole);
    // PostgreSQL 15 already creates databases this way; older databases and upgraded clusters may not be.
    await bankDatabase`revoke create on schema public from public`;
    await bankDatabase`grant usage, create on schema public to ${owner}`;
    // Everything the owner creates from now on (tables of later migrations, re-created ledger functions)
    // reaches the runtime role with the same privileges, without anyone re-running this setup.
    await bankDatabase`alter default privileges for role ${owner} in schema public grant select, insert, update, delete on tables to ${runtime}`;
    await bankDatabase`alter default privileges for role ${owner} in schema public grant usage, select on sequences to ${runtime}`;
    await bankDatabase`alter default privileges for role ${owner} in schema public grant execute on functions to ${runtime}`;
    const appendOnlyTables = await grantRuntimePrivileges(bankDatabase, runtimeRole);
    return { createdRoles, databaseCreated, appendOnlyTables };
  } finally {
    await bankDatabase.end({ timeout: 5 });
  }
}

/**
 * Drops roles made by `createDatabaseRoles` after their database is gone (tests use per-run roles). Objects
 * and privileges the roles still hold in the connected database are dropped with them.
 */
export async function dropDatabaseRoles(adminUrl: string, roles: readonly string[]): Promise<void> {
  const sql = connect(adminUrl);
  try {
    for (const role of roles) {
      assertDatabaseIdentifier(role, "role");
      const [existing] = await sql<{ exists: boolean }[]>`select exists (select 1 from pg_roles where rolname = ${role}) as exists`;
      if (!existing?.exists) continue;
      await sql`drop owned by ${sql(role)}`;
      await sql`drop role ${sql(role)}`;
    }
  } finally {
    await sql.end({ timeout: 5 });
  }
}

/**
 * What makes the role behind `databaseUrl` too powerful to run the app as: superuser, BYPASSRLS or CREATEROLE,
 * membership in (or being) the owner of any table in the public schema (owners may disable the append-only
 * triggers), or CREATE on the public schema. Empty when the role is properly restricted. One query.
 */
export async function findRuntimeRoleProblems(databaseUrl: string): Promise<string[]> {
  const sql = connect(databaseUrl);
  try {
    const [row] = await sql<
      { role: string; superuser: boolean; bypass_rls: boolean; create_role: boolean; can_create: boolean; owned_tables: string[] }[]
    >`
      select r.rolname::text as role, r.rolsuper as superuser, r.rolbypassrls as bypass_rls, r.rolcreaterole as create_role,
             has_schema_privilege('public', 'CREATE') as can_create,
             array(select c.relname::text
                     from pg_class c join pg_namespace n on n.oid = c.relnamespace
                    where n.nspname = 'public' and c.relkind in ('r', 'p')
                      and pg_has_role(current_user, c.relowner, 'MEMBER')
                    order by 1) as owned_tables
        from pg_roles r where r.rolname = current_user`;
    if (!row) return ["the connected role was not found in pg_roles"];
    const problems: string[] = [];
    if (row.superuser) problems.push(`role ${row.role} is a superuser`);
    if (row.bypass_rls) problems.push(`role ${row.role} has BYPASSRLS`);
    if (row.create_role) problems.push(`role ${row.role} has CREATEROLE`);
    if (row.can_create) problems.push(`role ${row.role} may CREATE in schema public`);
    if (row.owned_tables.length > 0) {
      problems.push(`role ${row.role} owns (or is a member of the owner of) ${row.owned_tables.join(", ")}`);
    }
    return problems;
  } finally {
    await sql.end({ timeout: 5 });
  }
}
