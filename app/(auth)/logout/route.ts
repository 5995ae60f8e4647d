import { cookies } from "next/headers";
import { database } from "@/db/client";
import { recordAuditEvent } from "@/lib/audit/record-audit-event";
import { authCookies, signOut } from "@/lib/auth/auth";
import { isSessionCookieName } from "@/lib/auth/cookie-names";
import {
  resolveSessionWithoutActivity,
  type SessionActor,
  sessionTokenIdentity,
  type SessionTokenIdentity,
} from "@/lib/auth/session";
import { revokeSession } from "@/lib/auth/sessions";
import { env } from "@/lib/env";
import { BankError } from "@/lib/errors";
import { problemResponse } from "@/lib/http/problem";
import { requireSameOriginWrite } from "@/lib/http/require-same-origin";
import { logger } from "@/lib/logger";

/**
 * Sign-out. A route handler rather than a server action because only a route handler can answer with
 * `Clear-Site-Data`, which tells the browser to drop this site's cache, cookies and storage, so that nothing a
 * customer saw stays behind on a shared computer. The page posts a plain form here (and the timeout dialog
 * posts the same request with fetch when the countdown ends). It takes no fields.
 *
 * Sign-out revokes the server-side session record (reason "sign_out"), so that the token stops working at
 * once even if a copy of the cookie survives somewhere; then the cookie is expired.
 */
export const dynamic = "force-dynamic";


/** The ids in the session token, or null. Even a session that already timed out is revoked by them. */
async function tokenIdentityIfAny(): Promise<SessionTokenIdentity | null> {
  try {
    return await sessionTokenIdentity();
  } catch (error) {
    logger.error({ err: error }, "sign-out could not read the session token");
    return null;
  }
}

/**
 * The signed-in actor, or null. Sign-out must work even when the database cannot say who is signing out.
 * Signing out is not activity: the session is not touched on the way out.
 */
async function actorIfAny(): Promise<SessionActor | null> {
  try {
    return (await resolveSessionWithoutActivity())?.actor ?? null;
  } catch (error) {
    logger.error({ err: error }, "sign-out could not resolve the actor");
    return null;
  }
}

/** Revokes the session record. A failure is logged; the cookie is expired regardless. */
async function revokeSessionRecord(identity: SessionTokenIdentity | null): Promise<void> {
  if (!identity) return;
  try {
    await revokeSession(database(), identity.sessionId, "sign_out");
  } catch (error) {
    logger.error({ err: error }, "sign-out could not revoke the session record");
  }
}

/**
 * Auth.js's signOut() expires the session cookie through `cookies()`, which Next merges into this response.
 * Should it fail, every session cookie the browser sent (Auth.js splits large tokens into `.0`, `.1`…) is
 * expired here with the same attributes: a `__Secure-` cookie is only replaced by one that is itself Secure.
 */
async function endSession(): Promise<void> {
  try {
    await signOut({ redirect: false });
  } catch (error) {
    logger.error({ err: error }, "Auth.js signOut failed; expiring the session cookie directly");
    const cookieJar = await cookies();
    for (const { name } of cookieJar.getAll()) {
      if (isSessionCookieName(name)) {
        cookieJar.set(name, "", { ...authCookies.sessionToken.options, maxAge: 0, expires: new Date(0) });
      }
    }
  }
}

export async function POST(request: Request): Promise<Response> {
  const { appOrigin } = env();
  try {
    requireSameOriginWrite(request);
  } catch (error) {
    return problemResponse(error);
  }

  const identity = await tokenIdentityIfAny();
  const actor = await actorIfAny();
  await revokeSessionRecord(identity);
  await endSession();
  if (actor) {
    try {
      await recordAuditEvent(database(), {
        actorId: actor.userId,
        actorRole: actor.role,
        action: "auth.sign_out",
        targetType: "user",
        targetId: actor.userId,
        ipAddress: actor.ipAddress,
        userAgent: actor.userAgent,
      });
    } catch (error) {
      // The session is already over; a missing audit row must not keep the customer signed in.
      logger.error({ err: error }, "sign-out audit event could not be written");
    }
  }

  return new Response(null, {
    status: 303,
    headers: {
      // 303 turns the POST into a GET of the sign-in page; the target is built from configuration, not Host.
      location: `${appOrigin}/login`,
      "clear-site-data": '"cache", "cookies", "storage"',
      "cache-control": "no-store",
    },
  });
}

/** Sign-out changes state, so only POST does it; any other method is an unknown path. */
function notFound(): Response {
  return problemResponse(new BankError("not_found", { internalMessage: "sign-out with a method other than POST" }));
}

export const GET = notFound;
export const PUT = notFound;
export const PATCH = notFound;
export const DELETE = notFound;
export const OPTIONS = notFound;
