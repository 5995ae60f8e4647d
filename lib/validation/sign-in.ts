import { z } from "zod";
import { safeRedirectPath } from "@/lib/security/safe-redirect";
import { password, strictObject, text } from "@/lib/validation/fields";

// Sign-in deliberately checks little about the shape of the email: any detail here would tell an attacker
// more than "the email or password is incorrect". So the email is plain cleaned text rather than
// `emailAddress()`, whose format check belongs to registration. Upper bounds stop oversized input early.
export const signInSchema = strictObject({
  email: text({ min: 1, max: 254, tooShort: "Enter your email address.", tooLong: "That email address is too long." }),
  password: password({ tooShort: "Enter your password.", tooLong: "That password is too long." }),
  // Where to go after signing in. A bad target is not the customer's mistake to fix (it came from a link), so
  // it never fails the form: anything but a same-site path quietly becomes the dashboard.
  redirectTo: z
    .unknown()
    .optional()
    .transform((value) => safeRedirectPath(value)),
});

export type SignInInput = z.infer<typeof signInSchema>;
