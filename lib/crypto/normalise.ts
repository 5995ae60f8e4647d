/**
 * Normalisation of values before they are blind-indexed. Free of `server-only` on purpose: it holds no
 * secret, and client-side forms can use it to show or compare the address exactly as the server will see it.
 */

/**
 * The canonical form of an email address, used for the blind index so that " Alice@Example.COM " and
 * "alice@example.com" find the same account.
 *
 * - NFKC folds compatibility characters (full-width letters, ligatures, the ideographic space) into their
 *   ordinary forms, so visually identical addresses typed on different keyboards compare equal.
 * - `toLowerCase` (not `toLocaleLowerCase`) gives the same result on every server whatever its locale; a
 *   Turkish locale, for instance, would otherwise lower-case "I" to a dotless "ı".
 * - NFKC is applied again after lower-casing because lower-casing can itself produce a non-normalised
 *   sequence (for example "İ" becomes "i" followed by a combining dot), and the function must be idempotent:
 *   normalising an already normalised address must not change it, or stored indexes would stop matching.
 * - Trimming comes last so that whitespace produced by NFKC is removed too.
 *
 * Lower-casing the local part is technically stricter than RFC 5321 allows, but no mainstream mailbox
 * provider distinguishes case, and treating "Alice@" and "alice@" as two customers would be far worse.
 */
export function normaliseEmail(email: string): string {
  return email.normalize("NFKC").toLowerCase().normalize("NFKC").trim();
}
