"use server";

import { redirect } from "next/navigation";
import { publicAction } from "@/lib/action";
import { finishSignIn, requireSignInTicketCookies, restartSignIn } from "@/lib/auth/browser-sign-in";
import { clearSignInTicketCookies } from "@/lib/auth/sign-in-ticket-cookies";
import { verifyTicketSecondFactor } from "@/lib/auth/sign-in-tickets";
import { BankError } from "@/lib/errors";
import { safeRedirectPath } from "@/lib/security/safe-redirect";
import { secondFactorSchema } from "@/lib/validation/second-factor";

// One message for every wrong, reused, malformed or locked-out code: which of them it was would help a guesser.
const wrongCodeMessage = "That code is not right. Please try again.";

/**
 * The second step of sign-in: a code from the authenticator app or a recovery code, checked against this
 * browser's ticket. Wrong codes count towards the same five-attempt lock as wrong passwords, a code already used
 * is refused, and the attempt that locks the account also ends the ticket. On success the sign-in completes.
 */
export const verifySignInCode = publicAction(secondFactorSchema, async (input, context): Promise<null> => {
  const redirectTo = safeRedirectPath(input.redirectTo);
  const ticket = await requireSignInTicketCookies();
  const result = await verifyTicketSecondFactor(
    ticket.token,
    ticket.browserBinding,
    { method: input.method, code: input.code },
    context,
  );
  if (result.verified) return finishSignIn(redirectTo);
  switch (result.reason) {
    case "ticket_invalid":
      return restartSignIn();
    case "not_enrolled":
      redirect(`/login/enrol?redirectTo=${encodeURIComponent(redirectTo)}`);
      break;
    case "locked":
      // The ticket is dead now; the next attempt starts again from the password, which a lock also refuses.
      await clearSignInTicketCookies();
      throw new BankError("invalid_credentials", { userMessage: wrongCodeMessage });
    case "malformed":
    case "wrong_code":
      throw new BankError("invalid_credentials", { userMessage: wrongCodeMessage });
  }
  return null;
});
