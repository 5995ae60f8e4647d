import "server-only";
import NextAuth, { CredentialsSignin } from "next-auth";
import Credentials from "next-auth/providers/credentials";
import { z } from "zod";
import { completeSignIn } from "@/lib/auth/complete-sign-in";
import { secureCookieOptions, sessionCookieName } from "@/lib/auth/cookie-names";
import { isSessionIdShaped } from "@/lib/auth/sessions";
import { env } from "@/lib/env";
import { logger } from "@/lib/logger";
import { sameOriginRedirectUrl } from "@/lib/security/safe-redirect";

export { sessionCookieName };

// What the token and Auth.js's session object carry besides the standard claims: the id of the server-side
// session record (`sid`). The user id is the standard `sub`.
declare module "next-auth" {
  interface User {
    sessionId?: string;
  }
  interface Session {
    sessionId?: string;
  }
}
declare module "next-auth/jwt" {
  interface JWT {
    sid?: string;
  }
}

/**
 * Auth.js's cookies, pinned rather than left to its defaults. The defaults with `useSecureCookies` are the same
 * today, but they depend on that flag and on the library version, and proxy.ts and the sign-out route rely on
 * these exact names and attributes (lib/auth/cookie-names.ts explains them). The CSRF cookie is `__Host-`: no
 * subdomain can set or overwrite it, which is what a double-submit token needs.
 */
export const authCookies = {
  sessionToken: { name: sessionCookieName, options: secureCookieOptions },
  callbackUrl: { name: "__Secure-authjs.callback-url", options: secureCookieOptions },
  csrfToken: { name: "__Host-authjs.csrf-token", options: secureCookieOptions },
} as const;

// The ticket provider's fields: the sign-in ticket, the browser binding and the device cookie's value, all read
// from this browser's own HttpOnly cookies by the second-step server actions. Anything else is refused.
const ticketCredentialsSchema = z.object({
  ticket: z.string().max(128),
  binding: z.string().max(128),
  deviceId: z.uuid().optional().catch(undefined),
});

/**
 * Auth.js v5 with JWT sessions backed by a server-side session record (lib/auth/sessions.ts). The configuration
 * is built lazily, on the first request, so that importing this module (as `next build` does) never reads secrets.
 *
 * The token is an encrypted JWE holding exactly two ids: `sub` (the user) and `sid` (the session record). Role,
 * status, lock, verification, idle time and age are all read from the database on every request
 * (lib/auth/session.ts), so nothing in the token grants anything by itself and revoking the row ends the session.
 *
 * Lifetimes:
 * - idle: the session record's `last_seen_at` + SESSION_IDLE_TIMEOUT_SECONDS, checked on every request. The
 *   cookie and the token's `exp` use the same number as `maxAge`, so a forgotten cookie also dies on its own;
 *   proxy.ts re-issues the cookie on real activity (server components cannot set cookies, and Auth.js only
 *   re-issues it when its own endpoints answer).
 * - absolute: the record's `created_at` + SESSION_ABSOLUTE_LIFETIME_SECONDS, checked on every request, however
 *   active the session is, because sliding alone would let a stolen cookie live for ever.
 */
export const { handlers, auth, signIn, signOut } = NextAuth(() => {
  const configuration = env();
  // Auth.js builds its own URLs (redirects, action URLs) from AUTH_URL when it is set, and from the request's
  // Host header otherwise. The public origin is configuration, never a header a client controls.
  process.env.AUTH_URL = `${configuration.appOrigin}/api/auth`;
  return {
    secret: configuration.authSecret,
    trustHost: true,
    useSecureCookies: true,
    cookies: authCookies,
    session: { strategy: "jwt", maxAge: configuration.sessionIdleTimeoutSeconds, updateAge: 0 },
    pages: { signIn: "/login", error: "/login" },
    logger: {
      error: (error: Error) => {
        // A wrong password is not a server error; Auth.js would otherwise log it with a full stack trace.
        if (error instanceof CredentialsSignin || error.name === "CredentialsSignin") return;
        // A tampered, foreign or expired token: Auth.js answers "no session" (never a 500) and logs this. It is
        // what an attacker's probing looks like, worth a warning but not an error page for the operator.
        if (error.name === "JWTSessionError") {
          logger.warn({ err: { name: error.name } }, "unreadable session token refused");
          return;
        }
        logger.error({ err: { name: error.name, message: error.message } }, "auth error");
      },
      warn: (code: string) => logger.warn({ code }, "auth warning"),
      debug: () => undefined,
    },
    // The only way to a session is a sign-in ticket whose password and second factor were both proven
    // (lib/auth/sign-in-tickets.ts). There is deliberately no password-only provider: a POST of an email and
    // password to /api/auth/callback/credentials finds no provider and creates nothing. The password step is the
    // login server action, which only ever issues a ticket.
    providers: [
      Credentials({
        id: "ticket",
        credentials: { ticket: {}, binding: {}, deviceId: {} },
        authorize: async (credentials, request) => {
          const parsed = ticketCredentialsSchema.safeParse(credentials);
          if (!parsed.success) return null;
          const context = {
            ipAddress: request.headers.get("x-client-ip"),
            userAgent: request.headers.get("user-agent"),
          };
          // Claims the ticket once and creates a new session record with a new random id (no fixation).
          const completed = await completeSignIn(
            { token: parsed.data.ticket, browserBinding: parsed.data.binding },
            parsed.data.deviceId,
            context,
          );
          if (!completed) return null;
          return { id: completed.userId, sessionId: completed.sessionId };
        },
      }),
    ],
    callbacks: {
      // Every redirect Auth.js makes (after sign-in, after sign-out, the callbackUrl it stores in a cookie) goes
      // through here. Its default accepts any URL on the base origin as given; this one reduces same-origin
      // URLs to a checked path and sends anything foreign, protocol-relative or encoded-to-escape to "/".
      redirect({ url, baseUrl }) {
        return sameOriginRedirectUrl(url, baseUrl);
      },
      // Called at sign-in (with `user`, straight from `authorize` above) and on every later read of the token,
      // including `POST /api/auth/session` (`trigger: "update"`), whose `session` argument is whatever any
      // signed-in browser chose to send (STACK-NOTES trap 24). That argument is deliberately not even read:
      // the token is rebuilt from the two ids it already carried, and anything else in it is dropped.
      jwt({ token, user }) {
        if (user) {
          if (typeof user.id !== "string" || !isSessionIdShaped(user.sessionId)) return null;
          return { sub: user.id, sid: user.sessionId };
        }
        // A token without both ids (one issued before session records existed) is no session: null makes Auth.js
        // delete the cookie.
        if (typeof token.sub !== "string" || !isSessionIdShaped(token.sid)) return null;
        return { sub: token.sub, sid: token.sid };
      },
      session({ session, token }) {
        // Server code reads only these ids (lib/auth/session.ts) and looks everything else up.
        return { expires: session.expires, user: { id: token.sub ?? "" }, sessionId: token.sid } as typeof session;
      },
    },
  };
});
