"use server";

import { revalidatePath } from "next/cache";
import { action } from "@/lib/action";
import { updateMyContactDetails } from "@/lib/identity/profile";
import { contactDetailsSchema } from "@/lib/validation/profile";

// The data layer checks the role and the current password itself.
export const changeContactDetails = action(contactDetailsSchema, async (actor, input) => {
  await updateMyContactDetails(actor, input);
  revalidatePath("/profile");
  return null;
});
