import frequencyLists from "zxcvbn/lib/frequency_lists";

/**
 * The most common passwords, taken from the ranked `passwords` list that zxcvbn itself carries (built from
 * leaked password sets), so the bank ships no second copy of a dictionary and keeps it as current as the
 * package. Only ever loaded with a dynamic `import()` from password-policy.ts: the list lives in the same
 * ~800 kB module as zxcvbn's other dictionaries, which must not be in any page's first bundle.
 */
export const commonPasswordListSize = 10_000;

// The list is already lower case; lower-casing again keeps the comparison right if a later version is not.
const commonPasswords = new Set(frequencyLists.passwords.slice(0, commonPasswordListSize).map((entry) => entry.toLowerCase()));

/** Whether the whole password, ignoring case, is one of the 10,000 most common passwords. */
export function isCommonPassword(password: string): boolean {
  return commonPasswords.has(password.toLowerCase());
}
