/**
 * Confirmation-of-payee name comparison. Pure functions, no `server-only` needed but used only by the server:
 * the browser never sees the account holder's name unless the result is a close match.
 */
export type PayeeMatchResult = "exact_match" | "close_match" | "no_match";

const titles = new Set(["mr", "mrs", "ms", "miss", "mx", "dr", "prof", "sir"]);

/**
 * Lower case, accents removed (NFD, then combining marks dropped), punctuation turned into spaces, common
 * titles dropped and runs of spaces collapsed, as words. "Dr. José  O'Neil" becomes ["jose", "o", "neil"].
 */
export function normalisedNameWords(name: string): string[] {
  return name
    .normalize("NFD")
    .replace(/\p{M}/gu, "")
    .toLowerCase()
    .replace(/[^\p{L}\p{N}]+/gu, " ")
    .split(" ")
    .filter((word) => word.length > 0 && !titles.has(word));
}

function editDistance(first: string, second: string): number {
  let previous = Array.from({ length: second.length + 1 }, (_, index) => index);
  for (let row = 1; row <= first.length; row += 1) {
    const current = [row];
    for (let column = 1; column <= second.length; column += 1) {
      const substitution = (previous[column - 1] ?? 0) + (first[row - 1] === second[column - 1] ? 0 : 1);
      current.push(Math.min((previous[column] ?? 0) + 1, (current[column - 1] ?? 0) + 1, substitution));
    }
    previous = current;
  }
  return previous[second.length] ?? 0;
}

/** Up to one typo in a short name, two in a longer one: "Bob Brenan" is close to "Bob Brennan". */
function allowedEdits(length: number): number {
  return length >= 10 ? 2 : 1;
}

function wordsAreClose(typed: string, actual: string): boolean {
  if (typed === actual) return true;
  // An initial for a name: "B" or "B." for "Bob".
  if (typed.length === 1 && actual.startsWith(typed)) return true;
  return editDistance(typed, actual) <= allowedEdits(actual.length);
}

export function compareNames(typedName: string, accountHolderName: string): PayeeMatchResult {
  const typed = normalisedNameWords(typedName);
  const actual = normalisedNameWords(accountHolderName);
  if (typed.length === 0 || actual.length === 0) return "no_match";
  if (typed.join(" ") === actual.join(" ")) return "exact_match";
  // The same words in another order ("Brennan Bob") is close: the customer meant this person.
  if ([...typed].sort().join(" ") === [...actual].sort().join(" ")) return "close_match";
  const typedJoined = typed.join(" ");
  const actualJoined = actual.join(" ");
  if (editDistance(typedJoined, actualJoined) <= allowedEdits(actualJoined.length)) return "close_match";
  // Word by word, with the surname (last word) required to be close: "B Brennan", "Robert Brennan" is not.
  if (typed.length === actual.length && typed.every((word, index) => wordsAreClose(word, actual[index] ?? ""))) {
    return "close_match";
  }
  // First name and surname only, when the account holder has middle names: "Alice Atkinson" for "Alice Mary Atkinson".
  const typedFirst = typed[0] ?? "";
  const typedLast = typed[typed.length - 1] ?? "";
  const actualFirst = actual[0] ?? "";
  const actualLast = actual[actual.length - 1] ?? "";
  if (typed.length >= 2 && wordsAreClose(typedFirst, actualFirst) && wordsAreClose(typedLast, actualLast)) {
    return "close_match";
  }
  return "no_match";
}
