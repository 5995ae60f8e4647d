"use server";

import { redirect } from "next/navigation";
import { publicAction } from "@/lib/action";
import { finishSignIn, requireSignInTicketCookies, restartSignIn } from "@/lib/auth/browser-sign-in";
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
      // The same answer as a wrong code, so that the page does not announce the lock to whoever holds the
      // password. The data layer has ended the ticket: the next attempt finds it dead and starts again at the
      // password, which the lock refuses too. The cookies are left to expire rather than cleared here, because
      // setting cookies in an action re-renders the page, which would navigate away and tell the lock apart.
      throw new BankError("invalid_credentials", { userMessage: wrongCodeMessage });
    case "malformed":
    case "wrong_code":
      throw new BankError("invalid_credentials", { userMessage: wrongCodeMessage });
  }
  return null;
});
