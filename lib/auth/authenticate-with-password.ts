import "server-only";
import { eq } from "drizzle-orm";
import { z } from "zod";
import { database } from "@/db/client";
import { users } from "@/db/schema";
import type { RequestContext } from "@/lib/auth/actor";
import { recordAuditEvent } from "@/lib/audit/record-audit-event";
import { verifyPassword } from "@/lib/auth/password";
import { blindIndex, normaliseEmail } from "@/lib/crypto";
import { signInSchema } from "@/lib/validation/sign-in";

// The same field rules as the sign-in form (lib/validation), so that a direct POST to Auth.js's callback
// is cleaned exactly like the form. Not strict: Auth.js adds its own fields (csrfToken, callbackUrl).
// The password's upper bound keeps an attacker from making argon2 hash megabytes.
const credentialsSchema = z.object({ email: signInSchema.shape.email, password: signInSchema.shape.password });

/**
 * Checks an email and password. Answers only "who" or "nobody", never why: an unknown email and a wrong
 * password look identical to the caller and take the same time (verifyPassword hashes a decoy). Both
 * outcomes are written to the audit trail, without the email or password.
 * Lockout after repeated failures arrives with the identity issue, in this same function.
 */
export async function authenticateWithPassword(
  credentials: Partial<Record<string, unknown>>,
  context: RequestContext,
): Promise<{ userId: string; role: string } | null> {
  const parsed = credentialsSchema.safeParse(credentials);
  const db = database();
  if (!parsed.success) {
    await recordAuditEvent(db, {
      actorId: null,
      actorRole: null,
      action: "auth.sign_in.failed",
      ...context,
      details: { reason: "malformed_input" },
    });
    return null;
  }
  const emailIndex = await blindIndex("email", normaliseEmail(parsed.data.email));
  const [user] = await db
    .select({ id: users.id, role: users.role, passwordHash: users.passwordHash })
    .from(users)
    .where(eq(users.emailBlindIndex, emailIndex))
    .limit(1);
  const passwordMatches = await verifyPassword(user?.passwordHash ?? null, parsed.data.password);
  if (!user || !passwordMatches) {
    await recordAuditEvent(db, {
      actorId: null,
      actorRole: null,
      action: "auth.sign_in.failed",
      targetType: user ? "user" : undefined,
      targetId: user?.id,
      ...context,
      details: { reason: user ? "wrong_password" : "unknown_account" },
    });
    return null;
  }
  await recordAuditEvent(db, {
    actorId: user.id,
    actorRole: user.role,
    action: "auth.sign_in.succeeded",
    targetType: "user",
    targetId: user.id,
    ...context,
  });
  return { userId: user.id, role: user.role };
}
