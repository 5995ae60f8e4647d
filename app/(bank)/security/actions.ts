"use server";

import { revalidatePath } from "next/cache";
import { z } from "zod";
import { action } from "@/lib/action";
import { revokeMyOtherSessions, revokeMySession } from "@/lib/auth/sessions";
import { strictObject } from "@/lib/validation/fields";

// The wrapper authenticates, rate-limits per user and parses; the data layer checks ownership (another user's
// session id is not_found). The page is then rendered again so the list shows what is left.
export const revokeSession = action(strictObject({ sessionId: z.uuid() }), async (actor, input) => {
  await revokeMySession(actor, input.sessionId);
  revalidatePath("/security");
  return null;
});

export const signOutOtherSessions = action(strictObject({}), async (actor) => {
  const revokedCount = await revokeMyOtherSessions(actor);
  revalidatePath("/security");
  return { revokedCount };
});
