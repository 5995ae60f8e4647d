import "server-only";
import { and, eq } from "drizzle-orm";
import { z } from "zod";
import { database } from "@/db/client";
import { accounts } from "@/db/schema";
import type { StaffSessionActor } from "@/lib/admin/staff-action";
import { requireStaffPermission } from "@/lib/admin/staff-guard";
import type { Actor } from "@/lib/auth/actor";
import { recordAuditEvent } from "@/lib/audit/record-audit-event";
import { requireStepUpForPayload } from "@/lib/auth/step-up";
import { stepUpOperationHash } from "@/lib/auth/step-up-operations";
import { BankError } from "@/lib/errors";
import { setAccountFrozenSchema } from "@/lib/validation/admin-customers";

export interface AccountFreezeOutcome {
  accountId: string;
  status: "active" | "frozen";
}

/**
 * Freezes or unfreezes a customer's account. A frozen account can neither send nor receive: the ledger's
 * posting function (lib/ledger/database-functions.ts) refuses any movement unless both accounts are active,
 * and held transfers touching it wait. Only active ↔ frozen: a closed account stays closed, and asking for the
 * state the account is already in is a conflict (someone else got there first), so that the trail records only
 * real changes. The step-up is bound to this account and this direction; the audit event carries the reason.
 */
export async function setAccountFrozen(
  actor: (Actor & { sessionId?: string }) | null,
  accountId: string,
  frozen: boolean,
  reason: string,
): Promise<AccountFreezeOutcome> {
  const staff = requireStaffPermission(actor, "accounts.freeze");
  // A step-up belongs to a session; a caller without one (a script) can never have confirmed it.
  const sessionId = actor?.sessionId;
  if (sessionId === undefined) throw new BankError("step_up_required", { internalMessage: "step-up asked without a session" });
  const sessionActor: StaffSessionActor = { ...staff, sessionId };
  const input = { accountId, frozen, reason };
  const parsed = setAccountFrozenSchema.safeParse(input);
  if (!parsed.success) {
    const fieldErrors = z.flattenError(parsed.error).fieldErrors as Record<string, string[]>;
    if (fieldErrors.accountId) throw new BankError("not_found");
    throw new BankError("invalid_input", { fieldErrors });
  }
  const customerAccount = and(eq(accounts.id, parsed.data.accountId), eq(accounts.ownerRole, "customer"));
  // The account must exist before a code is asked for (and spent).
  const [existing] = await database().select({ id: accounts.id }).from(accounts).where(customerAccount).limit(1);
  if (!existing) throw new BankError("not_found");
  await requireStepUpForPayload(sessionActor, stepUpOperationHash("staff_freeze_account", sessionActor, input));

  const target = parsed.data.frozen ? "frozen" : "active";
  return database().transaction(async (tx) => {
    const [account] = await tx.select({ id: accounts.id, status: accounts.status }).from(accounts).where(customerAccount).for("update");
    if (!account) throw new BankError("not_found");
    if (account.status === "closed") {
      throw new BankError("conflict", { userMessage: "This account is closed. A closed account cannot be frozen or unfrozen." });
    }
    if (account.status === target) {
      throw new BankError("conflict", { userMessage: target === "frozen" ? "This account is already frozen." : "This account is not frozen." });
    }
    await tx.update(accounts).set({ status: target }).where(eq(accounts.id, account.id));
    await recordAuditEvent(tx, {
      actorId: staff.userId,
      actorRole: staff.role,
      action: parsed.data.frozen ? "staff.account.frozen" : "staff.account.unfrozen",
      targetType: "account",
      targetId: account.id,
      ipAddress: staff.ipAddress,
      userAgent: staff.userAgent,
      details: { reason: parsed.data.reason },
    });
    return { accountId: account.id, status: target };
  });
}
