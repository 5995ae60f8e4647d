"use server";

import { revalidatePath } from "next/cache";
import { approveHeldTransfer, commentOnHeldTransfer, rejectHeldTransfer } from "@/lib/admin/held-transfers";
import { approveHeldTransferSchema, commentOnHeldTransferSchema, rejectHeldTransferSchema } from "@/lib/admin/held-transfers/schemas";
import { staffAction } from "@/lib/admin/staff-action";

/**
 * The held-transfer review's server actions. Each goes through `staffAction` (origin, session, permission, rate
 * limit, parse) and calls the data layer, which checks the permission, four eyes and the step-up again.
 */

export const commentOnHeldTransferAction = staffAction("transfers.comment", commentOnHeldTransferSchema, async (actor, input) => {
  await commentOnHeldTransfer(actor, input.transferId, input.note);
  revalidatePath(`/admin/transfers/${input.transferId}`);
  return null;
});

/** Approving needs a step-up bound to the transfer (operation `staff_approve_transfer`). */
export const approveHeldTransferAction = staffAction("transfers.approve", approveHeldTransferSchema, async (actor, input) => {
  const outcome = await approveHeldTransfer(actor, input.transferId, input.note);
  revalidatePath(`/admin/transfers/${input.transferId}`);
  revalidatePath("/admin/transfers");
  return outcome;
});

export const rejectHeldTransferAction = staffAction("transfers.reject", rejectHeldTransferSchema, async (actor, input) => {
  const outcome = await rejectHeldTransfer(actor, input.transferId, input.reason);
  revalidatePath(`/admin/transfers/${input.transferId}`);
  revalidatePath("/admin/transfers");
  return outcome;
});
