import { z } from "zod";
import { safeRedirectPath } from "@/lib/security/safe-redirect";
import { strictObject, text } from "@/lib/validation/fields";

// Where to go once signed in: carried from the sign-in form through the second step as a hidden field, and
// reduced to a same-site path again at every step, because every hidden field can be forged.
const redirectTo = z
  .unknown()
  .optional()
  .transform((value) => safeRedirectPath(value));

// The code's exact format is checked by the data layer (a TOTP code is six digits; a recovery code has its own
// alphabet and tolerates spaces and dashes). Here only a generous upper bound keeps oversized input out.
const code = text({ min: 1, max: 64, tooShort: "Enter the code.", tooLong: "That code is too long." });

/** The second step of sign-in: a code from the authenticator app, or one of the recovery codes. */
export const secondFactorSchema = strictObject({
  method: z.enum(["totp", "recovery_code"]).catch("totp"),
  code,
  redirectTo,
});

/** The first code from a newly added authenticator, which confirms the enrolment. */
export const enrolmentCodeSchema = strictObject({ code, redirectTo });

/** The last click after enrolment ("I have saved my recovery codes"), which completes the sign-in. */
export const finishSignInSchema = strictObject({ redirectTo });
