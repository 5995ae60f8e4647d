/**
 * Public account numbers: nine digits and a Luhn check digit, so that a mistyped digit or a swap of two
 * neighbouring digits is caught on input before any lookup. No `server-only`: forms validate with it too.
 */
const accountNumberPattern = /^[0-9]{10}$/;

export function luhnCheckDigit(digits: string): number {
  let sum = 0;
  // Walk from the right; the digit next to the check digit is doubled.
  for (let index = 0; index < digits.length; index += 1) {
    let digit = digits.charCodeAt(digits.length - 1 - index) - 48;
    if (index % 2 === 0) {
      digit *= 2;
      if (digit > 9) digit -= 9;
    }
    sum += digit;
  }
  return (10 - (sum % 10)) % 10;
}

export function isValidAccountNumber(candidate: string): boolean {
  if (!accountNumberPattern.test(candidate)) return false;
  return luhnCheckDigit(candidate.slice(0, 9)) === Number(candidate.slice(9));
}

/** Builds a valid account number from nine random digits supplied by the caller. */
export function accountNumberFromDigits(nineDigits: string): string {
  if (!/^[0-9]{9}$/.test(nineDigits)) throw new Error("account number body must be nine digits");
  return `${nineDigits}${luhnCheckDigit(nineDigits)}`;
}
