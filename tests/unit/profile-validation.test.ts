import { describe, expect, it } from "vitest";
import { contactDetailsSchema, normalisePhone } from "@/lib/validation/profile";

const base = { currentPassword: "correct horse!", phone: "", postalAddress: "" };

function fieldErrorsOf(input: Record<string, unknown>) {
  const result = contactDetailsSchema.safeParse(input);
  if (result.success) return undefined;
  return Object.fromEntries(result.error.issues.map((issue) => [String(issue.path[0]), issue.message]));
}

describe("contact details", () => {
  it("stores one form of a phone number: an optional + and the digits", () => {
    expect(normalisePhone("+44 20 7946-0958")).toBe("+442079460958");
    expect(normalisePhone("(020) 7946.0958")).toBe("02079460958");
    expect(contactDetailsSchema.parse({ ...base, phone: " +1 (555) 010-0199 " }).phone).toBe("+15550100199");
  });

  it("treats empty fields as removed", () => {
    expect(contactDetailsSchema.parse({ ...base, phone: "   ", postalAddress: "\n \n" })).toMatchObject({ phone: null, postalAddress: null });
  });

  it("refuses letters, too few or too many digits in a phone number", () => {
    expect(fieldErrorsOf({ ...base, phone: "call me" })?.phone).toBe("Use digits, spaces and an optional + at the start.");
    expect(fieldErrorsOf({ ...base, phone: "12345" })?.phone).toBe("A phone number has 7 to 15 digits.");
    expect(fieldErrorsOf({ ...base, phone: "+1234567890123456" })?.phone).toBe("A phone number has 7 to 15 digits.");
  });

  it("cleans each address line, drops empty ones and bounds lines and length", () => {
    expect(contactDetailsSchema.parse({ ...base, postalAddress: "1 Road\u202E\r\n\r\n  Town  " }).postalAddress).toBe("1 Road\nTown");
    expect(fieldErrorsOf({ ...base, postalAddress: "a\nb\nc\nd\ne\nf\ng" })?.postalAddress).toBe("Use at most 6 lines.");
    expect(fieldErrorsOf({ ...base, postalAddress: "x".repeat(201) })?.postalAddress).toBe("Use at most 200 characters.");
  });

  it("needs the current password and refuses fields it does not know", () => {
    expect(fieldErrorsOf({ phone: "", postalAddress: "" })?.currentPassword).toBe("Enter your current password.");
    expect(contactDetailsSchema.safeParse({ ...base, nationalIdentifier: "QQ123456C" }).success).toBe(false);
  });
});
