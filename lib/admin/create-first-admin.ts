import "server-only";
import crypto from "node:crypto";
import { eq, sql } from "drizzle-orm";
import type { z } from "zod";
import { database } from "@/db/client";
import { users } from "@/db/schema";
import { insertUser } from "@/db/seed-demo-data";
import { recordAuditEvent } from "@/lib/audit/record-audit-event";
import { systemActor } from "@/lib/auth/actor";
import { generateTotpSecret, totpUri } from "@/lib/auth/totp";
import { blindIndex, normaliseEmail } from "@/lib/crypto";
import { BankError } from "@/lib/errors";
import { emailAddress, strictObject } from "@/lib/validation/fields";
import { legalNameField } from "@/lib/validation/registration";

export const firstAdminSchema = strictObject({
  email: emailAddress(),
  legalName: legalNameField,
});

export type FirstAdminInput = z.input<typeof firstAdminSchema>;

/** What the operator must write down: shown once, stored nowhere in clear. */
export interface CreatedFirstAdmin {
  userId: string;
  email: string;
  password: string;
  totpSecret: string;
  otpauthUri: string;
}

export type FirstAdminOutcome = { created: true; admin: CreatedFirstAdmin } | { created: false; reason: "admin_exists" | "email_taken" };

/** 24 random bytes in base64url (32 characters, about 192 bits), with a fixed prefix and symbol for the policy. */
function generateStrongPassword(): string {
  return `Hb-${crypto.randomBytes(24).toString("base64url")}!`;
}

/**
 * Creates the bank's first admin for `npm run admin:create`: a verified staff user with a generated password and
 * an enrolled authenticator (staff never hold a session without a second factor), stored through the seed's
 * user-creation path (field encryption, blind index), and the `staff.admin.created` audit event by the system
 * actor in the same transaction. Refuses when any admin exists already: further staff are invited from the
 * back office, where granting admin needs a second admin. The advisory lock makes two runs at once create one
 * admin, not two.
 */
export async function createFirstAdmin(input: FirstAdminInput): Promise<FirstAdminOutcome> {
  const parsed = firstAdminSchema.safeParse(input);
  if (!parsed.success) {
    throw new BankError("invalid_input", { userMessage: parsed.error.issues.map((issue) => issue.message).join(" ") });
  }
  const email = normaliseEmail(parsed.data.email);
  const actor = systemActor("admin:create");
  return database().transaction(async (tx): Promise<FirstAdminOutcome> => {
    await tx.execute(sql`select pg_advisory_xact_lock(4242009)`);
    const [existingAdmin] = await tx.select({ id: users.id }).from(users).where(eq(users.role, "admin")).limit(1);
    if (existingAdmin) return { created: false, reason: "admin_exists" };
    const [sameEmail] = await tx
      .select({ id: users.id })
      .from(users)
      .where(eq(users.emailBlindIndex, await blindIndex("email", email)))
      .limit(1);
    if (sameEmail) return { created: false, reason: "email_taken" };
    const password = generateStrongPassword();
    const totpSecret = generateTotpSecret();
    const userId = await insertUser(tx, { role: "admin", legalName: parsed.data.legalName, email }, password, totpSecret);
    await recordAuditEvent(tx, {
      actorId: null,
      actorRole: actor.role,
      action: "staff.admin.created",
      targetType: "user",
      targetId: userId,
      details: { role: "admin", via: "admin:create" },
    });
    return { created: true, admin: { userId, email, password, totpSecret, otpauthUri: totpUri(totpSecret, email) } };
  });
}
