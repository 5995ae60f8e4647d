/**
 *   npm run db:roles [-- --admin-url <url>] [--database <name>]
 *
 * Creates, or brings back in line, the two PostgreSQL roles the bank runs with (db/database-roles.ts): the
 * owner role that migrations connect as (DATABASE_OWNER_ROLE, default bank_owner) and the restricted runtime
 * role the app connects as (DATABASE_RUNTIME_ROLE, default bank_app), plus the database, owned by the owner,
 * if it does not exist yet, and the runtime role's privileges including default privileges for everything
 * later migrations create. Idempotent: run it again after changing a password or when in doubt.
 *
 * It needs an administrative connection (a superuser; see db/database-roles.ts): DATABASE_ADMIN_URL,
 * or --admin-url (which other users of the machine can see in the process list while it runs, so prefer the
 * variable when the URL holds a password). The database is named by --database, or else taken from
 * MIGRATION_DATABASE_URL or DATABASE_URL. Passwords come from DATABASE_OWNER_PASSWORD(_FILE) and
 * DATABASE_RUNTIME_PASSWORD(_FILE); without them the roles keep the passwords they have (or none, for
 * certificate or peer authentication). Passwords are never printed.
 *
 * It validates only the settings it uses (lib/env-schema.ts databaseRoleSettingsSchema), so that it can run
 * before the rest of the app's configuration exists.
 */
import "../db/load-environment";
import fs from "node:fs";
import { parseArgs } from "node:util";
import { z } from "zod";
import { createDatabaseRoles } from "@/db/database-roles";
import { databaseRoleSettingsProblems, databaseRoleSettingsSchema } from "@/lib/env-schema";

const usage = "usage: npm run db:roles [-- --admin-url <postgres url>] [--database <name>]";

function readPassword(value: string | undefined, file: string | undefined): string | undefined {
  if (value !== undefined) return value;
  if (file === undefined) return undefined;
  // A trailing newline is what `echo` and most secret stores add; it is never part of the password.
  return fs.readFileSync(file, "utf8").replace(/\r?\n$/, "");
}

function shownWithoutPassword(url: string): string {
  const shown = new URL(url);
  shown.password = "";
  return shown.toString();
}

async function main(): Promise<number> {
  let options: { "admin-url"?: string | undefined; database?: string | undefined };
  try {
    ({ values: options } = parseArgs({
      args: process.argv.slice(2),
      options: { "admin-url": { type: "string" }, database: { type: "string" } },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n${usage}\n`);
    return 2;
  }
  const cleaned = Object.fromEntries(Object.entries(process.env).filter(([, value]) => value !== undefined && value !== ""));
  const parsed = databaseRoleSettingsSchema
    .extend({ DATABASE_URL: z.url({ protocol: /^postgres(ql)?$/ }).optional() })
    .safeParse({ ...cleaned, ...(options["admin-url"] ? { DATABASE_ADMIN_URL: options["admin-url"] } : {}) });
  if (!parsed.success) {
    for (const issue of parsed.error.issues) process.stderr.write(`${issue.path.join(".")}: ${issue.message}\n`);
    return 2;
  }
  const settings = parsed.data;
  const problems = databaseRoleSettingsProblems(settings);
  if (!settings.DATABASE_ADMIN_URL) problems.push("DATABASE_ADMIN_URL (or --admin-url) is required");
  const bankDatabaseUrl = settings.MIGRATION_DATABASE_URL ?? settings.DATABASE_URL;
  const databaseName = options.database ?? (bankDatabaseUrl ? decodeURIComponent(new URL(bankDatabaseUrl).pathname.slice(1)) : "");
  if (!databaseName) problems.push("name the database with --database, MIGRATION_DATABASE_URL or DATABASE_URL");
  if (problems.length > 0 || !settings.DATABASE_ADMIN_URL) {
    for (const problem of problems) process.stderr.write(`${problem}\n`);
    process.stderr.write(`${usage}\n`);
    return 2;
  }

  const outcome = await createDatabaseRoles(settings.DATABASE_ADMIN_URL, {
    databaseName,
    ownerRole: settings.DATABASE_OWNER_ROLE,
    runtimeRole: settings.DATABASE_RUNTIME_ROLE,
    ownerPassword: readPassword(settings.DATABASE_OWNER_PASSWORD, settings.DATABASE_OWNER_PASSWORD_FILE),
    runtimePassword: readPassword(settings.DATABASE_RUNTIME_PASSWORD, settings.DATABASE_RUNTIME_PASSWORD_FILE),
  });
  process.stdout.write(
    [
      `database roles ready on ${shownWithoutPassword(settings.DATABASE_ADMIN_URL)}`,
      `  owner role:   ${settings.DATABASE_OWNER_ROLE}${outcome.createdRoles.includes(settings.DATABASE_OWNER_ROLE) ? " (created)" : ""}`,
      `  runtime role: ${settings.DATABASE_RUNTIME_ROLE}${outcome.createdRoles.includes(settings.DATABASE_RUNTIME_ROLE) ? " (created)" : ""}`,
      `  database:     ${databaseName}${outcome.databaseCreated ? " (created, owned by the owner role)" : ""}`,
      `  append-only for the runtime role: ${outcome.appendOnlyTables.join(", ") || "(no tables yet; npm run db:migrate applies it)"}`,
      "next: npm run db:migrate with MIGRATION_DATABASE_URL as the owner role; run the app with DATABASE_URL as the runtime role",
      "",
    ].join("\n"),
  );
  return 0;
}

process.exitCode = await main();
