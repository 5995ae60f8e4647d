import { describe, expect, it } from "vitest";
import { z } from "zod";
import {
  accountTransactionsQueryParametersSchema,
  decodeHistoryCursor,
  encodeHistoryCursor,
  historyQueryToSearchParams,
  parseHistoryQuery,
} from "@/lib/validation/history";

describe("history query", () => {
  it("round-trips cursors and refuses anything this server could not have issued", () => {
    for (const sequence of [1n, 42n, 2n ** 63n - 1n]) expect(decodeHistoryCursor(encodeHistoryCursor(sequence))).toBe(sequence);
    for (const bad of ["", "MA", "LTE", "MDE", "not-base64!", Buffer.from("9223372036854775808").toString("base64url"), `${encodeHistoryCursor(5n)}=`]) {
      expect(decodeHistoryCursor(bad)).toBeNull();
    }
  });

  it("ignores blank fields of the GET form and parses amounts into minor units", () => {
    const query = parseHistoryQuery({ account: "", from: "", min: "1,000.5", max: "2000", direction: "out", text: "  rent  " });
    expect(query).toMatchObject({ accountId: undefined, fromDate: undefined, minimumAmountMinor: 100_050n, maximumAmountMinor: 200_000n, direction: "out", text: "rent", pageSize: 25 });
  });

  it("refuses negative or malformed amounts, inverted ranges, unknown fields and repeated fields", () => {
    for (const input of [{ min: "-5" }, { max: "1.234" }, { min: "5", max: "4" }, { from: "2026-02-01", to: "2026-01-31" }, { from: "2026-02-30" }, { direction: "sideways" }, { sort: "asc" }, { limit: "0" }, { limit: "101" }]) {
      expect(() => parseHistoryQuery(input), JSON.stringify(input)).toThrow();
    }
    expect(() => parseHistoryQuery(new URLSearchParams("text=a&text=b"))).toThrow();
  });

  it("writes a query back into the same query string", () => {
    const query = parseHistoryQuery({ min: "10.5", to: "2026-03-01", text: "Zoë", limit: "10" });
    expect(parseHistoryQuery(historyQueryToSearchParams(query))).toEqual(query);
  });

  it("describes the API's parameters as JSON Schema for the OpenAPI document", () => {
    const schema = z.toJSONSchema(accountTransactionsQueryParametersSchema, { io: "input" });
    expect(Object.keys(schema.properties ?? {})).toEqual(["from", "to", "min", "max", "direction", "text", "cursor", "limit"]);
  });
});
