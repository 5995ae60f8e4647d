"use server";

import { revalidatePath } from "next/cache";
import { z } from "zod";
import { action } from "@/lib/action";
import { confirmAuthenticatorReplacement, startAuthenticatorReplacement } from "@/lib/auth/authenticator-replacement";
import { regenerateMyRecoveryCodes } from "@/lib/auth/recovery-codes";
import { password, strictObject } from "@/lib/validation/fields";

// A code or a recovery code as typed; the data layer decides which it is and whether it has the right shape.
const typedCode = z.string({ error: "Enter a code." }).trim().min(1, { error: "Enter a code." }).max(64);

/**
 * New recovery codes. Protected by a payload-bound step-up (lib/auth/step-up-operations.ts): without a code
 * confirmed for this operation the result is `{ ok: false, code: "step_up_required" }`, and the form's
 * StepUpPrompt asks for one and calls this again. The codes are returned once, to be shown once.
 */
export const regenerateRecoveryCodes = action(strictObject({}), async (actor) => {
  const codes = await regenerateMyRecoveryCodes(actor);
  revalidatePath("/security");
  return { codes };
});

/**
 * Step 1 of a new authenticator: the password and a current code or a recovery code. Answers the new QR code
 * (an SVG data URL rendered on the server) and the secret as text; nothing changes until step 2 confirms.
 */
export const startReplacingAuthenticator = action(
  strictObject({ password: password({ tooShort: "Enter your password." }), secondFactor: typedCode }),
  async (actor, input) => {
    const provisioning = await startAuthenticatorReplacement(actor, {
      password: input.password,
      secondFactor: input.secondFactor,
    });
    return { qrCodeDataUrl: provisioning.qrCodeDataUrl, secretForManualEntry: provisioning.secretForManualEntry };
  },
);

/** Step 2: the first code from the new authenticator; on success the old authenticator stops working. */
export const confirmReplacingAuthenticator = action(strictObject({ code: typedCode }), async (actor, input) => {
  await confirmAuthenticatorReplacement(actor, input.code);
  revalidatePath("/security");
  return null;
});
