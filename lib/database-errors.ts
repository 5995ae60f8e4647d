/**
 * PostgreSQL SQLSTATE checks. Drizzle wraps driver errors in a DrizzleQueryError whose `cause` carries the
 * driver's error (STACK-NOTES trap 7); postgres.js and PGlite both put the SQLSTATE in `code`.
 */
export function sqlState(error: unknown): string | undefined {
  for (let current: unknown = error, depth = 0; current && depth < 4; depth += 1) {
    if (typeof current === "object" && "code" in current && typeof current.code === "string") return current.code;
    current = typeof current === "object" && "cause" in current ? current.cause : undefined;
  }
  return undefined;
}

export function isUniqueViolation(error: unknown): boolean {
  return sqlState(error) === "23505";
}
