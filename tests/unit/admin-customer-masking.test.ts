import { describe, expect, it } from "vitest";
import { maskDate, maskEmail, maskName, maskNationalIdentifier, maskPhone, maskPostalAddress } from "@/lib/admin/customers/masking";
import { revealCustomerFieldSchema, setAccountFrozenSchema } from "@/lib/validation/admin-customers";

describe("masking customer PII for the back office", () => {
  it("keeps only what helps recognise the customer", () => {
    expect(maskEmail("alice@example.com")).toBe("a•••@example.com");
    expect(maskEmail("not-an-address")).toBe("•••");
    expect(maskName("Alice  Atkinson")).toBe("A••• A•••");
    expect(maskName("Émile Zola-Dupont")).toBe("É••• Z•••");
    expect(maskDate()).not.toMatch(/[0-9]/);
    expect(maskPhone("+447700900123")).toBe("•••••23");
    expect(maskPostalAddress("1 High Street\nLondon\n\nSW1A 1AA")).toBe("••• (3 lines on file)");
    expect(maskNationalIdentifier("1234")).toBe("••• 1234");
  });
});

describe("customer-care inputs", () => {
  const customerId = "0b9f6a9e-2a55-4c1e-9d1a-2f3b4c5d6e7f";

  it("takes a reason of 10 to 500 characters of plain text, trimmed, without control characters", () => {
    const parsed = revealCustomerFieldSchema.parse({ customerId, field: "email", reason: "  Customer asked\u0000 on the phone\u202E  " });
    expect(parsed.reason).toBe("Customer asked on the phone");
    expect(revealCustomerFieldSchema.safeParse({ customerId, field: "email", reason: "too short" }).success).toBe(false);
    expect(revealCustomerFieldSchema.safeParse({ customerId, field: "email", reason: "x".repeat(501) }).success).toBe(false);
    expect(revealCustomerFieldSchema.safeParse({ customerId, field: "password_hash", reason: "a good reason here" }).success).toBe(false);
  });

  it("reads the freeze flag from a form or from JSON", () => {
    const reason = "Suspected fraud reported by phone";
    const accountId = customerId;
    expect(setAccountFrozenSchema.parse({ accountId, frozen: "true", reason }).frozen).toBe(true);
    expect(setAccountFrozenSchema.parse({ accountId, frozen: false, reason }).frozen).toBe(false);
    expect(setAccountFrozenSchema.safeParse({ accountId, frozen: "yes", reason }).success).toBe(false);
  });
});
