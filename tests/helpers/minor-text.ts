/** Minor units as the plain amount text a customer would type ("1234.05"), for building transfer requests. */
export function formatMinorPlain(amountMinor: bigint): string {
  const whole = amountMinor / 100n;
  const cents = amountMinor % 100n;
  return `${whole.toString()}.${cents.toString().padStart(2, "0")}`;
}
