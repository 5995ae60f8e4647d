import { describe, expect, it } from "vitest";
import { csvLine, neutraliseCell, quoteCell } from "@/lib/csv";

describe("CSV cells", () => {
  it.each([
    ["=1+2", "'=1+2"],
    ["+44 20 7946 0000", "'+44 20 7946 0000"],
    ["-5", "'-5"],
    ["@SUM(A1:A2)", "'@SUM(A1:A2)"],
    ["\t=1", "'\t=1"],
    ["\r=1", "'\r=1"],
    ["\n=1", "'\n=1"],
  ])("neutralises %j so that a spreadsheet shows it as text", (input, expected) => {
    expect(neutraliseCell(input)).toBe(expected);
  });

  it.each(["Rent", "12.34", "", "a=b", "Zoë's café", "O'Brien"])("leaves the harmless cell %j alone", (input) => {
    expect(neutraliseCell(input)).toBe(input);
  });

  it("quotes commas, quotes and line breaks, doubling inner quotes", () => {
    expect(quoteCell("a,b")).toBe('"a,b"');
    expect(quoteCell('say "hi"')).toBe('"say ""hi"""');
    expect(quoteCell("line\nbreak")).toBe('"line\nbreak"');
    expect(quoteCell("plain")).toBe("plain");
  });

  it("neutralises before quoting, so a formula with a comma is both prefixed and quoted", () => {
    expect(csvLine(['=HYPERLINK("https://evil.example","Click")', "12.34", "out"])).toBe(
      '"\'=HYPERLINK(""https://evil.example"",""Click"")",12.34,out\r\n',
    );
  });

  it("ends every line with CRLF and keeps empty cells", () => {
    expect(csvLine(["a", "", "c"])).toBe("a,,c\r\n");
  });
});
