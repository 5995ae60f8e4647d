/**
 *   npm run admin:create -- --email <address> --legal-name "<name>"
 *   (or ADMIN_EMAIL and ADMIN_LEGAL_NAME in the environment)
 *
 * Creates the bank's first admin on a fresh install: a verified staff account with a generated password and an
 * enrolled authenticator, printed once (with the otpauth:// URI to add it to an authenticator app) and stored
 * nowhere in clear. Refuses when an admin exists already: further staff, admins included, are invited from the
 * back office, where granting admin needs a second admin's approval. Records `staff.admin.created`.
 */
import "../db/load-environment";
import { parseArgs } from "node:util";
import { closeDatabase } from "@/db/client";
import { createFirstAdmin } from "@/lib/admin/create-first-admin";
import { BankError } from "@/lib/errors";
import { describeError } from "@/scripts/describe-error";

const usage = 'usage: npm run admin:create -- --email <address> --legal-name "<name>"';

async function main(): Promise<number> {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: { email: { type: "string" }, "legal-name": { type: "string" } },
    strict: true,
    allowPositionals: false,
  });
  const email = values.email ?? process.env.ADMIN_EMAIL;
  const legalName = values["legal-name"] ?? process.env.ADMIN_LEGAL_NAME;
  if (!email || !legalName) {
    process.stderr.write(`${usage}\n`);
    return 2;
  }
  let outcome;
  try {
    outcome = await createFirstAdmin({ email, legalName });
  } catch (error) {
    if (error instanceof BankError && error.code === "invalid_input") {
      process.stderr.write(`${error.userMessage}\n${usage}\n`);
      return 2;
    }
    throw error;
  }
  if (!outcome.created) {
    process.stderr.write(
      outcome.reason === "admin_exists"
        ? "An admin already exists: nothing was created. Invite further staff from the back office (/admin/staff).\n"
        : "A user with that email address already exists: nothing was created.\n",
    );
    return 1;
  }
  const { admin } = outcome;
  process.stdout.write(
    [
      "The first admin was created. These are shown once and stored nowhere in clear: keep them safe now.",
      `  Email:                ${admin.email}`,
      `  Password:             ${admin.password}`,
      `  Authenticator secret: ${admin.totpSecret}`,
      `  Authenticator URI:    ${admin.otpauthUri}`,
      "Sign in at /login with the email, the password and a code from the authenticator app.",
      "",
    ].join("\n"),
  );
  return 0;
}

try {
  process.exitCode = await main();
} catch (error) {
  process.stderr.write(`\nadmin:create failed: ${describeError(error)}\n`);
  process.exitCode = 1;
} finally {
  await closeDatabase();
}
