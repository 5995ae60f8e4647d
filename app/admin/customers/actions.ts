"use server";

import { z } from "zod";
import { clearCustomerLockout } from "@/lib/admin/customers/clear-customer-lockout";
import { revealCustomerField as revealField } from "@/lib/admin/customers/reveal-customer-field";
import { revokeCustomerSessions } from "@/lib/admin/customers/revoke-customer-sessions";
import { setAccountFrozen } from "@/lib/admin/customers/set-account-frozen";
import { staffAction } from "@/lib/admin/staff-action";
import { confirmStepUp } from "@/lib/auth/step-up";
import { stepUpOperationHash } from "@/lib/auth/step-up-operations";
import { customerIdSchema, revealCustomerFieldSchema, setAccountFrozenSchema } from "@/lib/validation/admin-customers";
import { strictObject } from "@/lib/validation/fields";

/**
 * The customer-care actions of the back office. Each goes through `staffAction` with the permission its data
 * layer checks again. Searching is a GET form on the page (a query in the URL, like the transaction history's
 * filters), so it needs no action.
 */

export const revealCustomerField = staffAction("customers.reveal_pii", revealCustomerFieldSchema, async (actor, input) =>
  revealField(actor, input.customerId, input.field, input.reason),
);

export const clearCustomerSignInLock = staffAction("customers.clear_lockout", customerIdSchema, async (actor, input) => {
  await clearCustomerLockout(actor, input.customerId);
  return null;
});

export const revokeAllCustomerSessions = staffAction("customers.revoke_sessions", customerIdSchema, async (actor, input) => ({
  revokedCount: await revokeCustomerSessions(actor, input.customerId),
}));

export const setCustomerAccountFrozen = staffAction("accounts.freeze", setAccountFrozenSchema, async (actor, input) =>
  setAccountFrozen(actor, input.accountId, input.frozen, input.reason),
);

/** The step-up prompt's JSON input (app/components/step-up-prompt.tsx sends the operation's input as text). */
const operationInputText = z
  .string()
  .max(4096)
  .transform((text, context): unknown => {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      context.addIssue({ code: "custom", message: "The confirmation could not be read. Please try again." });
      return z.NEVER;
    }
  });

/**
 * Step-up confirmations for the two sensitive customer-care operations, each behind the permission of the
 * operation it confirms (so nobody else even reaches the code check). The payload is computed on the server
 * from the operation's input by lib/auth/step-up-operations.ts, as for the customers' own confirmations.
 */
export const confirmRevealStepUp = staffAction(
  "customers.reveal_pii",
  strictObject({ code: z.string().trim().max(16), operation: z.literal("staff_reveal_pii"), input: operationInputText }),
  async (actor, input) => {
    await confirmStepUp(actor, input.code, stepUpOperationHash(input.operation, actor, input.input));
    return null;
  },
);

export const confirmFreezeStepUp = staffAction(
  "accounts.freeze",
  strictObject({ code: z.string().trim().max(16), operation: z.literal("staff_freeze_account"), input: operationInputText }),
  async (actor, input) => {
    await confirmStepUp(actor, input.code, stepUpOperationHash(input.operation, actor, input.input));
    return null;
  },
);
