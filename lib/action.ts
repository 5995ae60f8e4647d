import "server-only";
import { headers } from "next/headers";
import { unstable_rethrow } from "next/navigation";
import { z } from "zod";
import type { RequestContext } from "@/lib/auth/actor";
import { requestContext, requireActor, type SessionActor } from "@/lib/auth/session";
import { env } from "@/lib/env";
import { BankError, type ErrorCode, type FieldErrors } from "@/lib/errors";
import { logger } from "@/lib/logger";
import { isSameOriginRequest } from "@/lib/security/origin";
import { enforcePerUserLimit } from "@/lib/security/rate-limit/per-user";

export type ActionResult<T> =
  | { ok: true; data: T }
  | { ok: false; code: ErrorCode; message: string; fieldErrors?: FieldErrors; details?: Readonly<Record<string, string>> };

export type ActionInput = FormData | Record<string, unknown>;

function toPlainObject(input: ActionInput): Record<string, unknown> {
  if (input instanceof FormData) {
    // Next adds its own `$ACTION_…` fields to forms posted to server actions; they are not user input.
    return Object.fromEntries([...input.entries()].filter(([key]) => !key.startsWith("$ACTION")));
  }
  return input;
}

function toFailure(error: unknown): Extract<ActionResult<never>, { ok: false }> {
  if (error instanceof BankError) {
    if (error.code === "internal" || error.code === "unavailable") {
      logger.error({ err: error, cause: error.cause }, "action failed");
    }
    return {
      ok: false,
      code: error.code,
      message: error.userMessage,
      ...(error.fieldErrors ? { fieldErrors: error.fieldErrors } : {}),
      ...(error.details ? { details: error.details } : {}),
    };
  }
  // Database, crypto and any other unexpected errors are logged with their cause and never shown.
  logger.error({ err: error }, "action failed unexpectedly");
  const internal = new BankError("internal");
  return { ok: false, code: internal.code, message: internal.userMessage };
}

export async function runGuarded<T>(work: () => Promise<T>): Promise<ActionResult<T>> {
  try {
    return { ok: true, data: await work() };
  } catch (error) {
    // redirect(), notFound() and Auth.js signIn() work by throwing; they must pass through untouched (trap 25).
    unstable_rethrow(error);
    return toFailure(error);
  }
}

export async function assertSameOrigin(): Promise<void> {
  if (!isSameOriginRequest(await headers(), env().appOrigin)) {
    throw new BankError("forbidden", { internalMessage: "cross-origin or origin-less server action refused" });
  }
}

/**
 * Parses asynchronously, because some schemas have asynchronous refinements (the password policy loads zxcvbn
 * with a dynamic import); a synchronous parse would throw on them. Synchronous schemas parse the same way.
 */
export async function parseInput<Schema extends z.ZodType>(schema: Schema, input: ActionInput): Promise<z.output<Schema>> {
  const parsed = await schema.safeParseAsync(toPlainObject(input));
  if (!parsed.success) {
    throw new BankError("invalid_input", { fieldErrors: z.flattenError(parsed.error).fieldErrors as FieldErrors });
  }
  return parsed.data;
}

/**
 * The one way to write a server action for a signed-in user: origin check → authenticate into an actor →
 * per-user rate limit → zod parse → call the data layer → a typed result. The shape `(previousState, input)` fits React's `useActionState`.
 */
export function action<Schema extends z.ZodType, Result>(
  schema: Schema,
  handler: (actor: SessionActor, input: z.output<Schema>) => Promise<Result>,
) {
  return async (_previous: ActionResult<Result> | null, input: ActionInput): Promise<ActionResult<Result>> =>
    runGuarded(async () => {
      await assertSameOrigin();
      const actor = await requireActor();
      await enforcePerUserLimit("userActions", actor.userId);
      return handler(actor, await parseInput(schema, input));
    });
}

/**
 * The same wrapper for the few actions that run before there is a session (sign-in). Their limits are per IP
 * and applied by proxy.ts (sign-in, registration), since there is no user to count them under.
 */
export function publicAction<Schema extends z.ZodType, Result>(
  schema: Schema,
  handler: (input: z.output<Schema>, context: RequestContext) => Promise<Result>,
) {
  return async (_previous: ActionResult<Result> | null, input: ActionInput): Promise<ActionResult<Result>> =>
    runGuarded(async () => {
      await assertSameOrigin();
      return handler(await parseInput(schema, input), await requestContext());
    });
}
