/**
 * Small helpers that let one integration test run unchanged on postgres.js and on PGlite.
 */
import type { SQL } from "drizzle-orm";
import { database } from "@/db/client";

/**
 * Runs raw SQL and returns its rows. postgres.js returns the rows as an array, PGlite as `{ rows }`. Cast
 * numeric columns to text in the query: the two drivers map bigint and numeric differently.
 */
export async function queryRows<Row extends Record<string, unknown>>(query: SQL): Promise<Row[]> {
  const result: unknown = await database().execute(query);
  if (Array.isArray(result)) return result as Row[];
  return (result as { rows: Row[] }).rows;
}

export interface DatabaseFailure {
  /** The SQLSTATE, for example 23514 for a check violation. */
  code: string | undefined;
  /** Every message along the cause chain, joined, so assertions can look for a constraint name. */
  message: string;
}

/**
 * Awaits something that must fail in the database and describes the failure. Drizzle wraps driver errors in
 * DrizzleQueryError (with the driver's error as `cause`), and a failing COMMIT comes straight from the
 * driver, so the SQLSTATE is looked for along the whole cause chain.
 */
export async function databaseFailureOf(work: Promise<unknown>): Promise<DatabaseFailure> {
  try {
    await work;
  } catch (error) {
    const messages: string[] = [];
    let code: string | undefined;
    let current: unknown = error;
    for (let depth = 0; current instanceof Error && depth < 10; depth += 1) {
      messages.push(current.message);
      const candidate = (current as { code?: unknown }).code;
      if (code === undefined && typeof candidate === "string" && /^[0-9A-Z]{5}$/.test(candidate)) code = candidate;
      current = current.cause;
    }
    return { code, message: messages.join("\n") };
  }
  throw new Error("expected the database to refuse this, but it succeeded");
}

/** SQLSTATE codes the schema's invariants raise. */
export const sqlState = {
  checkViolation: "23514",
  foreignKeyViolation: "23503",
  insufficientPrivilege: "42501",
} as const;
