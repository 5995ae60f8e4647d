import "server-only";
import { headers } from "next/headers";
import { redirect } from "next/navigation";
import { cache } from "react";
import { database } from "@/db/client";
import type { CustomerActor, RequestContext, SessionActor } from "@/lib/auth/actor";
import { auth } from "@/lib/auth/auth";
import { isPrefetchRequest } from "@/lib/auth/request-purpose";
import { isSessionIdShaped, sessionLimitsFromConfiguration, validateSession, type ValidSession } from "@/lib/auth/sessions";
import { env } from "@/lib/env";
import { BankError } from "@/lib/errors";

export type { SessionActor };

/** The client IP that server.ts wrote into `x-client-ip` (never a header a client can set), and the user agent. */
export async function requestContext(): Promise<RequestContext> {
  const requestHeaders = await headers();
  return {
    ipAddress: requestHeaders.get("x-client-ip"),
    userAgent: requestHeaders.get("user-agent"),
  };
}

/** The two ids a token carries. */
export interface SessionTokenIdentity {
  sessionId: string;
  userId: string;
}

/**
 * The ids in this request's session token, or null. `auth()` decrypts the cookie; a tampered, truncated,
 * foreign-secret, `alg: none` or expired token makes it log a JWTSessionError and answer null (it never throws
 * for a bad token, STACK-NOTES trap 8), which is the same as being signed out. Cached per request.
 */
export const sessionTokenIdentity = cache(async function sessionTokenIdentity(): Promise<SessionTokenIdentity | null> {
  const session = await auth();
  const userId = session?.user?.id;
  const sessionId = session?.sessionId;
  if (!isSessionIdShaped(userId) || !isSessionIdShaped(sessionId)) return null;
  return { sessionId, userId };
});

/** When the current session ends, for the timeout dialog. Times are ISO strings so they cross to the browser. */
export interface SessionStatus {
  /** The end of the session if nothing more happens in it. */
  idleExpiresAt: string;
  /** The end of the session however active it is. */
  absoluteExpiresAt: string;
  /** How long before the idle limit the dialog appears. */
  warningSeconds: number;
  /** The server's clock when this was answered, so that a browser with a wrong clock still counts correctly. */
  now: string;
}

export interface ResolvedSession {
  actor: SessionActor;
  session: ValidSession;
}

async function resolve(recordActivity: boolean): Promise<ResolvedSession | null> {
  const identity = await sessionTokenIdentity();
  if (!identity) return null;
  const validation = await validateSession(database(), identity, {
    now: new Date(),
    limits: sessionLimitsFromConfiguration(),
    recordActivity,
  });
  if (!validation.accepted) return null;
  const { session } = validation;
  const context = await requestContext();
  const actor: SessionActor =
    session.role === "customer"
      ? { kind: "customer", userId: session.userId, role: "customer", sessionId: session.sessionId, ...context }
      : { kind: "staff", userId: session.userId, role: session.role, sessionId: session.sessionId, ...context };
  return { actor, session };
}

/**
 * The signed-in actor and their session, or null. The token only names the session record and its user; the
 * record and the user are read on every request, and a missing or revoked record, an idle or too old session,
 * a locked account or an unverified email all answer null (lib/auth/sessions.ts holds the rule).
 *
 * A real page request, navigation, server action or API call counts as activity and moves `last_seen_at`
 * forward; a prefetch does not (lib/auth/request-purpose.ts). Cached per request: a layout and its page both
 * ask, and one token decryption and one query answer both.
 */
export const resolveSession = cache(async function resolveSession(): Promise<ResolvedSession | null> {
  return resolve(!isPrefetchRequest(await headers()));
});

/**
 * The session without counting this request as activity: the timeout dialog's status poll and sign-out. Asking
 * when a session ends must not postpone the end.
 */
export async function resolveSessionWithoutActivity(): Promise<ResolvedSession | null> {
  return resolve(false);
}

export function sessionStatusOf(session: ValidSession, now: Date = new Date()): SessionStatus {
  return {
    idleExpiresAt: session.idleExpiresAt.toISOString(),
    absoluteExpiresAt: session.absoluteExpiresAt.toISOString(),
    warningSeconds: env().sessionWarningSeconds,
    now: now.toISOString(),
  };
}

/** The signed-in actor, or null (see resolveSession). */
export const resolveActor = cache(async function resolveActor(): Promise<SessionActor | null> {
  return (await resolveSession())?.actor ?? null;
});

/** For route handlers that need the session itself: the session, or a BankError("unauthenticated"). */
export async function requireSession(): Promise<ResolvedSession> {
  const resolved = await resolveSession();
  if (!resolved) throw new BankError("unauthenticated");
  return resolved;
}

/** For server actions and route handlers: an actor, or a BankError("unauthenticated"). */
export async function requireActor(): Promise<SessionActor> {
  return (await requireSession()).actor;
}

/** For customer-only use cases: staff get not_found, so the customer surface is invisible to them. */
export async function requireCustomer(): Promise<CustomerActor & { sessionId: string }> {
  const actor = await requireActor();
  if (actor.kind !== "customer") throw new BankError("not_found");
  return actor;
}

/** For pages: a signed-out visitor is sent to the sign-in page instead of seeing an error. */
export async function requireSessionOrRedirect(): Promise<ResolvedSession> {
  const resolved = await resolveSession();
  if (!resolved) redirect("/login");
  return resolved;
}

/** For pages: the actor, or a redirect to the sign-in page. */
export async function requireActorOrRedirect(): Promise<SessionActor> {
  return (await requireSessionOrRedirect()).actor;
}
