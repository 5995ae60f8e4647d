"use server";

import { redirect } from "next/navigation";
import { database } from "@/db/client";
import { publicAction } from "@/lib/action";
import { authenticateWithPassword } from "@/lib/auth/authenticate-with-password";
import { deviceIdForSignIn } from "@/lib/auth/device-cookie";
import { newBrowserBinding, setSignInTicketCookies } from "@/lib/auth/sign-in-ticket-cookies";
import { issueSignInTicket } from "@/lib/auth/sign-in-tickets";
import { hasTotpEnrolment } from "@/lib/auth/totp";
import { BankError } from "@/lib/errors";
import { safeRedirectPath } from "@/lib/security/safe-redirect";
import { signInSchema } from "@/lib/validation/sign-in";

/**
 * The password step. It never yields a session: a right password only earns a sign-in ticket (five minutes,
 * single use, bound to this browser), and the browser continues to the second factor, or to enrolling one on a
 * first sign-in. Every failure gives the same message, whatever went wrong.
 */
export const signInWithPassword = publicAction(signInSchema, async (input, context): Promise<null> => {
  // The schema already reduced redirectTo to a same-site path; checking again here keeps this call safe even
  // if the schema changes, and every later step checks it again.
  const redirectTo = safeRedirectPath(input.redirectTo);
  const user = await authenticateWithPassword({ email: input.email, password: input.password }, context);
  if (!user) throw new BankError("invalid_credentials");
  // The device cookie is set now, with the ticket, so that the completing step reads the same value.
  await deviceIdForSignIn();
  const browserBinding = newBrowserBinding();
  const ticket = await issueSignInTicket(database(), user.userId, browserBinding);
  await setSignInTicketCookies(ticket.token, browserBinding);
  const nextStep = (await hasTotpEnrolment(database(), user.userId)) ? "/login/second-factor" : "/login/enrol";
  // Thrown as Next's redirect and let through by the wrapper (STACK-NOTES trap 25); a form posted without
  // JavaScript gets a 303 to the next step.
  redirect(`${nextStep}?redirectTo=${encodeURIComponent(redirectTo)}`);
});
