"use server";

import { revalidatePath } from "next/cache";
import { approveMfaReset } from "@/lib/admin/mfa-reset/approve-mfa-reset";
import { cancelMfaReset } from "@/lib/admin/mfa-reset/cancel-mfa-reset";
import { requestMfaReset } from "@/lib/admin/mfa-reset/request-mfa-reset";
import { staffAction } from "@/lib/admin/staff-action";
import { mfaResetDecisionSchema, requestMfaResetSchema } from "@/lib/validation/mfa-reset";

/**
 * Back office, lost authenticator: the three actions of /admin/mfa-resets (and of the request form embedded on
 * the customer page). Each data-layer function checks the permission and the step-up again.
 */

export const requestMfaResetAction = staffAction("mfa_reset.request", requestMfaResetSchema, async (actor, input) => {
  const requested = await requestMfaReset(actor, input.customerId, input.reason);
  revalidatePath("/admin/mfa-resets");
  return requested;
});

export const approveMfaResetAction = staffAction("mfa_reset.approve", mfaResetDecisionSchema, async (actor, input) => {
  await approveMfaReset(actor, input.requestId);
  revalidatePath("/admin/mfa-resets");
  return null;
});

export const cancelMfaResetAction = staffAction("mfa_reset.request", mfaResetDecisionSchema, async (actor, input) => {
  await cancelMfaReset(actor, input.requestId);
  revalidatePath("/admin/mfa-resets");
  return null;
});
