import { and, eq } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { database, databaseHandle } from "@/db/client";
import { applyMigrations } from "@/db/migrations";
import { auditEvents, users } from "@/db/schema";
import { seedDemoData, type DemoSignIn } from "@/db/seed-demo-data";
import type { SessionActor } from "@/lib/auth/actor";
import { getMyProfile, lastFourOf, updateMyContactDetails } from "@/lib/identity/profile";
import { contactDetailsSchema } from "@/lib/validation/profile";
import { useIntegrationEnvironment } from "../helpers/integration-environment";
import { demoCustomer, openSession, type SessionCustomer } from "../helpers/transfer-fixtures";

useIntegrationEnvironment();

let alice: SessionCustomer;
let bob: SessionCustomer;
let aliceSignIn: DemoSignIn;

beforeAll(async () => {
  await applyMigrations(databaseHandle());
  const seeded = await seedDemoData();
  const customers = seeded.signIns.filter((signIn) => signIn.role === "customer");
  const [first, second] = customers;
  if (!first || !second) throw new Error("the seed made fewer than two customers");
  aliceSignIn = first;
  alice = await openSession(await demoCustomer(first));
  bob = await openSession(await demoCustomer(second));
});

async function storedContactCiphertexts(userId: string) {
  const [row] = await database()
    .select({ phone: users.phoneCiphertext, postalAddress: users.postalAddressCiphertext, nationalIdentifier: users.nationalIdentifierCiphertext })
    .from(users)
    .where(eq(users.id, userId));
  return row;
}

describe("the customer's profile", () => {
  it("shows the seeded details decrypted, and the national identifier only as its last four characters", async () => {
    const profile = await getMyProfile(alice);
    expect(profile).toEqual({
      legalName: "Alice Atkinson",
      email: aliceSignIn.email,
      dateOfBirth: "1988-04-12",
      phone: "+447700900123",
      postalAddress: "12 Harbour Street\nPortsmouth\nPO1 2AB",
      nationalIdentifierLastFour: "456C",
    });
    expect(JSON.stringify(profile)).not.toContain("QQ123456C");
    expect(lastFourOf("QQ 12 34 56 C")).toBe("456C");
  });

  it("stores a change of contact details encrypted, bound to the row, and audits what changed without the values", async () => {
    const input = contactDetailsSchema.parse({ currentPassword: aliceSignIn.password, phone: "+44 (0)7700 900999", postalAddress: " 1 New Road \r\n\r\nLeeds\nLS1 1AA " });
    expect(input).toMatchObject({ phone: "+4407700900999", postalAddress: "1 New Road\nLeeds\nLS1 1AA" });
    await updateMyContactDetails(alice, input);
    expect(await getMyProfile(alice)).toMatchObject({ phone: "+4407700900999", postalAddress: "1 New Road\nLeeds\nLS1 1AA" });

    const stored = await storedContactCiphertexts(alice.userId);
    expect(stored?.phone).toMatch(/^v1:pii:\d+:/);
    expect(stored?.phone).not.toContain("7700900999");
    expect(stored?.postalAddress).not.toContain("Leeds");

    const [event] = await database()
      .select({ details: auditEvents.details })
      .from(auditEvents)
      .where(and(eq(auditEvents.actorId, alice.userId), eq(auditEvents.action, "identity.contact_details.changed")));
    expect(event?.details).toEqual({ phoneChanged: true, postalAddressChanged: true });
    expect(JSON.stringify(event)).not.toContain("Leeds");
  });

  it("removes a phone number or an address when the field is left empty", async () => {
    await updateMyContactDetails(alice, contactDetailsSchema.parse({ currentPassword: aliceSignIn.password, phone: "", postalAddress: "2 Old Road" }));
    expect(await getMyProfile(alice)).toMatchObject({ phone: null, postalAddress: "2 Old Road" });
    expect((await storedContactCiphertexts(alice.userId))?.phone).toBeNull();
  });

  it("refuses a wrong current password and changes nothing", async () => {
    const before = await storedContactCiphertexts(alice.userId);
    await expect(
      updateMyContactDetails(alice, contactDetailsSchema.parse({ currentPassword: "not-the-password!", phone: "+447700900000", postalAddress: "" })),
    ).rejects.toMatchObject({ code: "invalid_input", fieldErrors: { currentPassword: ["Your current password is not correct."] } });
    expect(await storedContactCiphertexts(alice.userId)).toEqual(before);
  });

  it("does not decrypt a value copied from another customer's row", async () => {
    const aliceStored = await storedContactCiphertexts(alice.userId);
    const bobBefore = await storedContactCiphertexts(bob.userId);
    await database().update(users).set({ postalAddressCiphertext: aliceStored?.postalAddress ?? null }).where(eq(users.id, bob.userId));
    await expect(getMyProfile(bob)).rejects.toThrow();
    await database().update(users).set({ postalAddressCiphertext: bobBefore?.postalAddress ?? null }).where(eq(users.id, bob.userId));
    expect((await getMyProfile(bob)).postalAddress).toBe("3 Quay Lane\nFalmouth\nTR11 3HF");
  });

  it("has no profile for staff: not found, and nothing written", async () => {
    const staff: SessionActor = { kind: "staff", role: "support", userId: bob.userId, sessionId: bob.sessionId, ipAddress: null, userAgent: null };
    await expect(getMyProfile(staff)).rejects.toMatchObject({ code: "not_found" });
    const before = await storedContactCiphertexts(bob.userId);
    await expect(
      updateMyContactDetails(staff, contactDetailsSchema.parse({ currentPassword: "whatever-it-is!", phone: "+447700900111", postalAddress: "" })),
    ).rejects.toMatchObject({ code: "not_found" });
    expect(await storedContactCiphertexts(bob.userId)).toEqual(before);
  });
});
