import "server-only";
import { and, eq, isNull, lt, ne, or } from "drizzle-orm";
import type { Transaction } from "@/db/client";
import { users } from "@/db/schema";

/**
 * Removing a staff member's access locks their account for good: users has no "none" role (every row is a
 * customer or a staff role, and staff can never become customers, see users_id_role_unique), and the lock
 * already ends every session on its next request and refuses every sign-in (lib/auth/sessions.ts,
 * lib/auth/authenticate-with-password.ts). The lock is set to the last day PostgreSQL and JavaScript both
 * represent comfortably, which is how the staff list tells a removed member from a temporary lockout.
 */
export const staffAccessRemovedUntil = new Date("9999-12-31T00:00:00.000Z");

export function isAccessRemoved(lockedUntil: Date | null): boolean {
  return lockedUntil !== null && lockedUntil.getTime() >= staffAccessRemovedUntil.getTime();
}

/** A staff member whose access has not been removed (a temporary lockout still counts as having access). */
export const hasStaffAccess = or(isNull(users.lockedUntil), lt(users.lockedUntil, staffAccessRemovedUntil));

/**
 * Locks the rows of every admin with access, in id order (so two callers cannot deadlock), and returns their
 * ids. Holding these locks while removing or demoting an admin is what keeps two admins removing each other at
 * the same moment from leaving the bank without any admin: the second waits, then counts again.
 */
export async function lockActiveAdmins(tx: Transaction): Promise<string[]> {
  const admins = await tx
    .select({ id: users.id })
    .from(users)
    .where(and(eq(users.role, "admin"), hasStaffAccess))
    .orderBy(users.id)
    .for("update");
  return admins.map((admin) => admin.id);
}

/** The staff member's row, locked for update; null for a customer, an unknown id or a removed member. */
export async function lockStaffMember(
  tx: Transaction,
  staffId: string,
): Promise<{ id: string; role: "admin" | "support" | "auditor" } | null> {
  const [member] = await tx
    .select({ id: users.id, role: users.role, lockedUntil: users.lockedUntil })
    .from(users)
    .where(and(eq(users.id, staffId), ne(users.role, "customer")))
    .for("update")
    .limit(1);
  if (!member || member.role === "customer" || isAccessRemoved(member.lockedUntil)) return null;
  return { id: member.id, role: member.role };
}

/** Masks an address for lists: the first character of the local part and the whole domain. */
export function maskEmail(email: string): string {
  const at = email.lastIndexOf("@");
  if (at <= 0) return "•••";
  return `${email.slice(0, 1)}•••${email.slice(at)}`;
}
