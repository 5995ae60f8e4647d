"use server";

import { publicAction } from "@/lib/action";
import { completeMfaReenrolment, startMfaReenrolment } from "@/lib/auth/mfa-reenrolment";
import { completeMfaReenrolmentSchema, startMfaReenrolmentSchema } from "@/lib/validation/mfa-reset";

/**
 * The emailed re-enrolment link after a staff reset of the second factor (lib/auth/mfa-reenrolment.ts). Public:
 * the link's token and the customer's password are the authentication. Per-IP limits come from proxy.ts.
 */
export const startReenrolment = publicAction(startMfaReenrolmentSchema, async (input, context) =>
  startMfaReenrolment({ token: input.token, password: input.password }, context),
);

export const completeReenrolment = publicAction(completeMfaReenrolmentSchema, async (input, context) =>
  completeMfaReenrolment({ token: input.token, code: input.code }, context),
);
