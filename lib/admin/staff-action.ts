import "server-only";
import type { z } from "zod";
import { assertSameOrigin, parseInput, runGuarded, type ActionInput, type ActionResult } from "@/lib/action";
import type { StaffActor } from "@/lib/auth/actor";
import { requireActor } from "@/lib/auth/session";
import type { StaffPermission } from "@/lib/admin/permissions";
import { requireStaffPermission } from "@/lib/admin/staff-guard";
import { enforcePerUserLimit } from "@/lib/security/rate-limit/per-user";

export type { ActionResult };

export type StaffSessionActor = StaffActor & { sessionId: string };

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
      const actor = await requireActor();
      const staff: StaffSessionActor = { ...requireStaffPermission(actor, permission), sessionId: actor.sessionId };
      await enforcePerUserLimit("userActions", staff.userId);
      return handler(staff, await parseInput(schema, input));
    });
}
