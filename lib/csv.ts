/**
 * CSV writing for exports (RFC 4180), safe to open in a spreadsheet.
 *
 * Spreadsheet programs treat a cell that begins with `=`, `+`, `-` or `@` as a formula, and tab and carriage
 * return (and, in some programs, line feed) at the start can hide such a prefix; a memo like
 * `=HYPERLINK("https://evil.example","Click")` would otherwise run when the export is opened (OWASP "CSV
 * injection"). Such cells get a leading apostrophe, which spreadsheets show as text and do not evaluate.
 * Amounts are therefore written unsigned with a separate direction column, so that money out is not mangled
 * into "'-12.34": every amount cell starts with a digit and is never neutralised.
 *
 * No `server-only`: pure string functions, unit-tested on their own.
 */

const formulaTriggers = new Set(["=", "+", "-", "@", "\t", "\r", "\n"]);

/** A cell that a spreadsheet would read as a formula gets an apostrophe in front; anything else is unchanged. */
export function neutraliseCell(value: string): string {
  const first = value.charAt(0);
  return formulaTriggers.has(first) ? `'${value}` : value;
}

/** Quotes a cell when it holds a comma, a double quote or a line break, doubling the quotes inside. */
export function quoteCell(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}

/** One CSV line (ending in CRLF, as RFC 4180 says), every cell neutralised then quoted. */
export function csvLine(cells: readonly string[]): string {
  return `${cells.map((cell) => quoteCell(neutraliseCell(cell))).join(",")}\r\n`;
}
