"use server";

import { z } from "zod";
import { action } from "@/lib/action";
import { confirmStepUp as confirmStepUpForPayload } from "@/lib/auth/step-up";
import { stepUpOperationHash, stepUpOperationNames } from "@/lib/auth/step-up-operations";
import { strictObject } from "@/lib/validation/fields";

/**
 * Confirms a payload-bound step-up for one named operation with a code from the authenticator app. The browser
 * names the operation; the payload the confirmation is bound to is computed here (lib/auth/step-up-operations.ts),
 * so a code typed for one operation never authorises another. A wrong code answers `invalid_input` with a
 * field error on `code` and counts towards the lock (lib/auth/step-up.ts); the attempt that begins a lock
 * answers `unauthenticated`. Used by app/components/step-up-prompt.tsx.
 *
 * `input` is the operation's own input for operations bound to one request (a transfer: its amount, accounts and
 * idempotency key). It is parsed by that operation's schema in lib/auth/step-up-operations.ts, never trusted as
 * a payload or a hash.
 */
export const confirmStepUp = action(
  strictObject({
    code: z.string({ error: "Enter the 6-digit code." }).trim().max(16),
    operation: z.enum(stepUpOperationNames),
    // JSON text (app/components/step-up-prompt.tsx sends it that way, since a form is flat); bounded before parsing.
    input: z
      .string()
      .max(4096)
      .optional()
      .transform((text, context): unknown => {
        if (text === undefined) return undefined;
        try {
          return JSON.parse(text) as unknown;
        } catch {
          context.addIssue({ code: "custom", message: "The confirmation could not be read. Please try again." });
          return z.NEVER;
        }
      }),
  }),
  async (actor, input) => {
    await confirmStepUpForPayload(actor, input.code, stepUpOperationHash(input.operation, actor, input.input));
    return null;
  },
);
