import { z } from "zod";

// Sign-in deliberately checks little about the shape of the email: any detail here would tell an attacker
// more than "the email or password is incorrect". Upper bounds stop oversized input early.
export const signInSchema = z.object({
  email: z.string().trim().min(1, "Enter your email address.").max(254, "That email address is too long."),
  password: z.string().min(1, "Enter your password.").max(1024, "That password is too long."),
});

export type SignInInput = z.infer<typeof signInSchema>;
