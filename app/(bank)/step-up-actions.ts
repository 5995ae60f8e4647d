"use server";

import { z } from "zod";
import { action } from "@/lib/action";
import { confirmStepUp as confirmStepUpForPayload } from "@/lib/auth/step-up";
import { stepUpOperationHash, stepUpOperationNames } from "@/lib/auth/step-up-operations";
import { BankError } from "@/lib/errors";
import { strictObject } from "@/lib/validation/fields";

/**
 * Confirms a payload-bound step-up for one named operation with a code from the authenticator app. The browser
 * names the operation; the payload the confirmation is bound to is computed here (lib/auth/step-up-operations.ts),
 * so a code typed for one operation never authorises another. A wrong code answers `invalid_input` with a
 * field error on `code` and counts towards the lock (lib/auth/step-up.ts); the attempt that begins a lock
 * answers `unauthenticated`. Used by app/components/step-up-prompt.tsx.
 */
export const confirmStepUp = action(
  strictObject({
    code: z.string({ error: "Enter the 6-digit code." }).trim().max(16),
    operation: z.enum(stepUpOperationNames),
    // The operation's own input as JSON (for example the payee being saved); the operation's payload builder
    // parses it with the operation's schema, exactly as the operation itself will.
    operationInput: z.string().max(4_096).optional(),
  }),
  async (actor, input) => {
    let operationInput: unknown;
    try {
      operationInput = input.operationInput === undefined ? undefined : JSON.parse(input.operationInput);
    } catch {
      throw new BankError("invalid_input", { internalMessage: "step-up operation input is not JSON" });
    }
    await confirmStepUpForPayload(actor, input.code, stepUpOperationHash(input.operation, actor, operationInput));
    return null;
  },
);
