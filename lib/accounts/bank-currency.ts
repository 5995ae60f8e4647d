/** The bank holds one currency today; multi-currency accounts would start here. No `server-only`: forms use it. */
export const bankCurrency = "GBP";
