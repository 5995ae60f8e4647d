"use server";

import { publicAction } from "@/lib/action";
import { confirmEmailToken } from "@/lib/identity/email-tokens";
import { emailLinkTokenSchema } from "@/lib/validation/email-link";

// Confirming happens on a button press (a POST), never on the GET of the link: mail scanners and link
// previews fetch links, and must not be able to confirm a registration or an address change by doing so.
export const confirmEmail = publicAction(emailLinkTokenSchema, async (input, context) =>
  confirmEmailToken(input.token, context),
);
