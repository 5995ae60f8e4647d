import "server-only";
import { eq } from "drizzle-orm";
import { headers } from "next/headers";
import { redirect } from "next/navigation";
import { cache } from "react";
import { database } from "@/db/client";
import { users } from "@/db/schema";
import type { CustomerActor, RequestContext, StaffActor } from "@/lib/auth/actor";
import { auth } from "@/lib/auth/auth";
import { BankError } from "@/lib/errors";

export type SessionActor = CustomerActor | StaffActor;

/** The client IP that server.ts wrote into `x-client-ip` (never a header a client can set), and the user agent. */
export async function requestContext(): Promise<RequestContext> {
  const requestHeaders = await headers();
  return {
    ipAddress: requestHeaders.get("x-client-ip"),
    userAgent: requestHeaders.get("user-agent"),
  };
}

/**
 * The signed-in actor, or null. The session token only names the user; the role is read from the database
 * on every call, so that a change of role or a deleted user takes effect on the next request.
 * A tampered or expired token makes `auth()` answer null, which is the same as being signed out.
 * Cached per request: a layout and its page both ask, and one token decryption and one query answer both.
 */
export const resolveActor = cache(async function resolveActor(): Promise<SessionActor | null> {
  const session = await auth();
  const userId = session?.user?.id;
  if (!userId) return null;
  const [user] = await database().select({ id: users.id, role: users.role }).from(users).where(eq(users.id, userId)).limit(1);
  if (!user) return null;
  const context = await requestContext();
  if (user.role === "customer") return { kind: "customer", userId: user.id, role: "customer", ...context };
  return { kind: "staff", userId: user.id, role: user.role, ...context };
});

/** For server actions and route handlers: an actor, or a BankError("unauthenticated"). */
export async function requireActor(): Promise<SessionActor> {
  const actor = await resolveActor();
  if (!actor) throw new BankError("unauthenticated");
  return actor;
}

/** For customer-only use cases: staff get not_found, so the customer surface is invisible to them. */
export async function requireCustomer(): Promise<CustomerActor> {
  const actor = await requireActor();
  if (actor.kind !== "customer") throw new BankError("not_found");
  return actor;
}

/** For pages: a signed-out visitor is sent to the sign-in page instead of seeing an error. */
export async function requireActorOrRedirect(): Promise<SessionActor> {
  const actor = await resolveActor();
  if (!actor) redirect("/login");
  return actor;
}
