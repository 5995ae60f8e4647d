"use server";

import { revalidatePath } from "next/cache";
import { action } from "@/lib/action";
import type { CustomerActor, SessionActor } from "@/lib/auth/actor";
import { BankError } from "@/lib/errors";
import { lookUpPayee, removePayee, savePayee } from "@/lib/payees/manage-payees";
import { payeeDetailsSchema, removePayeeSchema } from "@/lib/validation/payee";

/** Payees belong to customers; a staff session gets the same answer as for anything that is not there. */
function customerOnly(actor: SessionActor): SessionActor & CustomerActor {
  if (actor.kind !== "customer") throw new BankError("not_found");
  return actor;
}

/** Confirmation of payee for the "Check" step of the add-payee form. */
export const checkPayee = action(payeeDetailsSchema, async (actor, input) => lookUpPayee(customerOnly(actor), input));

/**
 * Saves a payee. The raw input goes on to the data layer, which parses it again for the step-up payload, so the
 * code confirmed for these details (app/(bank)/step-up-actions.ts) is the one spent here.
 */
export const addPayee = action(payeeDetailsSchema, async (actor, input) => {
  const saved = await savePayee(customerOnly(actor), input);
  revalidatePath("/payees");
  return saved;
});

export const deletePayee = action(removePayeeSchema, async (actor, input) => {
  await removePayee(customerOnly(actor), input.payeeId);
  revalidatePath("/payees");
  return null;
});
