import "server-only";
import { eq } from "drizzle-orm";
import { database } from "@/db/client";
import { users } from "@/db/schema";
import { decryptField } from "@/lib/crypto";
import { BankError } from "@/lib/errors";
import { checkPassword } from "@/lib/validation/password-policy";

/**
 * The server's own re-check of a new password against the whole policy, with the user's name and email as
 * zxcvbn inputs. The action's schema already checked the rules it could know about; only here, after the
 * user is known, can a password built from their own name be refused.
 */
export async function assertPasswordAcceptable(password: string, userId: string): Promise<void> {
  const [user] = await database()
    .select({
      emailCiphertext: users.emailCiphertext,
      legalNameCiphertext: users.legalNameCiphertext,
      dateOfBirthCiphertext: users.dateOfBirthCiphertext,
    })
    .from(users)
    .where(eq(users.id, userId))
    .limit(1);
  if (!user) throw new BankError("not_found");
  const email = await decryptField(user.emailCiphertext, { table: "users", column: "email", rowId: userId });
  const legalName = await decryptField(user.legalNameCiphertext, { table: "users", column: "legal_name", rowId: userId });
  const dateOfBirth = user.dateOfBirthCiphertext
    ? await decryptField(user.dateOfBirthCiphertext, { table: "users", column: "date_of_birth", rowId: userId })
    : undefined;
  const verdict = await checkPassword(password, { legalName, email, dateOfBirth });
  if (verdict.failures.length > 0) {
    throw new BankError("invalid_input", {
      fieldErrors: { password: verdict.failures.map((failure) => failure.message) },
    });
  }
}
