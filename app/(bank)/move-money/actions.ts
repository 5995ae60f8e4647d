"use server";

import { action } from "@/lib/action";
import { moveMoney as moveMoneyForCustomer } from "@/lib/ledger/move-money";
import { transferRequestSchema } from "@/lib/validation/transfer";

/**
 * Moves money from one of the customer's accounts to another of theirs or to one of their payees. The input
 * is the transfer request as the form sends it (the amount as typed, the idempotency key the browser made for
 * this attempt); lib/ledger/move-money.ts checks ownership and posts it through the ledger's one function.
 */
export const moveMoney = action(transferRequestSchema, moveMoneyForCustomer);
