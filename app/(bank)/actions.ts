"use server";

import { z } from "zod";
import { action } from "@/lib/action";
import { signOut } from "@/lib/auth/auth";

export const signOutOfBank = action(z.object({}), async () => {
  // signOut() clears the session cookie and throws Next's redirect to the sign-in page.
  await signOut({ redirectTo: "/login" });
  return null;
});
