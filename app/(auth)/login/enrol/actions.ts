"use server";

import { publicAction } from "@/lib/action";
import { finishSignIn, requireSignInTicketCookies, restartSignIn } from "@/lib/auth/browser-sign-in";
import { completeTicketEnrolment, readSignInTicket } from "@/lib/auth/sign-in-tickets";
import { BankError } from "@/lib/errors";
import { safeRedirectPath } from "@/lib/security/safe-redirect";
import { enrolmentCodeSchema, finishSignInSchema } from "@/lib/validation/second-factor";

/**
 * Confirms the authenticator being added at a first sign-in with its first code. The answer carries the ten
 * recovery codes, which exist in plain text only in this one response: the page shows them once.
 */
export const confirmEnrolment = publicAction(
  enrolmentCodeSchema,
  async (input, context): Promise<{ recoveryCodes: string[] }> => {
    const ticket = await requireSignInTicketCookies();
    const result = await completeTicketEnrolment(ticket.token, ticket.browserBinding, input.code, context);
    if (result.enrolled) return { recoveryCodes: result.recoveryCodes };
    if (result.reason === "ticket_invalid") return restartSignIn();
    throw new BankError("invalid_input", {
      userMessage: "That code is not right. Check that your device's clock is correct and try again.",
    });
  },
);

/**
 * "I have saved my recovery codes — continue": completes the sign-in, but only for a ticket whose enrolment was
 * confirmed (the claim itself checks that too).
 */
export const continueAfterEnrolment = publicAction(finishSignInSchema, async (input): Promise<null> => {
  const redirectTo = safeRedirectPath(input.redirectTo);
  const ticket = await requireSignInTicketCookies();
  const state = await readSignInTicket(ticket.token, ticket.browserBinding);
  if (!state?.secondFactorVerified) return restartSignIn();
  return finishSignIn(redirectTo);
});
