import "server-only";
import { notFound } from "next/navigation";
import type { z } from "zod";
import { assertSameOrigin, parseInput, runGuarded, type ActionInput, type ActionResult } from "@/lib/action";
import type { StaffActor } from "@/lib/auth/actor";
import { requireActor } from "@/lib/auth/session";
import type { StaffPermission } from "@/lib/admin/permissions";
import type { SessionActor } from "@/lib/auth/actor";
import { BankError } from "@/lib/errors";
import { requireStaffPermission } from "@/lib/admin/staff-guard";
import { enforcePerUserLimit } from "@/lib/security/rate-limit/per-user";

export type { ActionResult };

export type StaffSessionActor = StaffActor & { sessionId: string };

/**
 * The caller as a staff member holding `permission`, or Next's notFound(), which runGuarded lets through like a
 * redirect: the action's POST then answers with a real HTTP 404, exactly like a page that does not exist. A
 * signed-out caller, a customer and a staff member without the permission cannot tell an admin action from
 * nothing at all (the authorization matrix test checks the status for every admin action).
 */
async function staffOrNotFound(permission: StaffPermission): Promise<StaffSessionActor> {
  let actor: SessionActor;
  try {
    actor = await requireActor();
    return { ...requireStaffPermission(actor, permission), sessionId: actor.sessionId };
  } catch (error) {
    if (error instanceof BankError && (error.code === "unauthenticated" || error.code === "not_found")) notFound();
    throw error;
  }
}

/**
 * The one way to write a back-office server action: the customer wrapper's steps (origin check, session,
 * per-user rate limit, zod parse, typed result) with the permission check right after the session and before
 * anything is parsed, so that a non-staff caller gets not_found whatever they send. The data-layer function
 * the handler calls checks the same permission again: this wrapper is the early filter, the data layer is the
 * rule.
 */
export function staffAction<Schema extends z.ZodType, Result>(
  permission: StaffPermission,
  schema: Schema,
  handler: (actor: StaffSessionActor, input: z.output<Schema>) => Promise<Result>,
) {
  return async (_previous: ActionResult<Result> | null, input: ActionInput): Promise<ActionResult<Result>> =>
    runGuarded(async () => {
      await assertSameOrigin();
      const staff = await staffOrNotFound(permission);
      await enforcePerUserLimit("userActions", staff.userId);
      return handler(staff, await parseInput(schema, input));
    });
}
