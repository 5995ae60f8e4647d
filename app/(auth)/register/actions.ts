"use server";

import { publicAction } from "@/lib/action";
import { runAfterResponse } from "@/lib/after-response";
import { registerCustomerAccount } from "@/lib/identity/register";
import { registrationSchema } from "@/lib/validation/registration";

// The per-IP registration limit is applied by proxy.ts to posts to /register; the schema is the one the form
// checks in the browser, parsed again here because a form can be posted without the browser's help.
export const registerCustomer = publicAction(registrationSchema, async (input, context) => {
  // Nothing about the outcome goes back: the page shows the same sentence whether or not the address was new,
  // and the work (which differs between a new address and a known one) happens after the response is sent,
  // so that its duration does not tell the two apart either.
  await runAfterResponse("registration", () => registerCustomerAccount(input, context));
  return null;
});
