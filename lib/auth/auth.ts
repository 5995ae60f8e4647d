import "server-only";
import NextAuth, { CredentialsSignin } from "next-auth";
import Credentials from "next-auth/providers/credentials";
import { authenticateWithPassword } from "@/lib/auth/authenticate-with-password";
import { env } from "@/lib/env";
import { logger } from "@/lib/logger";

/** Cookie that carries the encrypted session JWT (`__Secure-` because the app is served only over HTTPS). */
export const sessionCookieName = "__Secure-authjs.session-token";

/**
 * Auth.js v5 with JWT sessions. The configuration is built lazily, on the first request, so that importing
 * this module (as `next build` does) never reads secrets.
 *
 * Session lifetime has two limits:
 * - idle: `maxAge` with `updateAge: 0`. Auth.js re-issues the cookie on every session read, so `maxAge` is
 *   a sliding idle timeout (STACK-NOTES trap 8): 15 minutes without a request and the session is gone.
 * - absolute: the `jwt` callback ends a session older than `sessionAbsoluteLifetimeSeconds` since the
 *   password was checked, however active it is, because sliding alone would let a stolen cookie live forever.
 * Server-side revocation (a session record checked on every request) comes with the identity issue.
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
    session: { strategy: "jwt", maxAge: configuration.sessionIdleTimeoutSeconds, updateAge: 0 },
    pages: { signIn: "/login", error: "/login" },
    logger: {
      // A wrong password is not a server error; Auth.js would otherwise log it with a full stack trace.
      error: (error: Error) => {
        if (error instanceof CredentialsSignin || error.name === "CredentialsSignin") return;
        logger.error({ err: { name: error.name, message: error.message } }, "auth error");
      },
      warn: (code: string) => logger.warn({ code }, "auth warning"),
      debug: () => undefined,
    },
    providers: [
      Credentials({
        id: "credentials",
        credentials: { email: {}, password: {} },
        authorize: async (credentials, request) => {
          const user = await authenticateWithPassword(credentials, {
            ipAddress: request.headers.get("x-client-ip"),
            userAgent: request.headers.get("user-agent"),
          });
          return user ? { id: user.userId } : null;
        },
      }),
    ],
    callbacks: {
      jwt({ token, user }) {
        const nowSeconds = Math.floor(Date.now() / 1000);
        if (user?.id) {
          // A fresh sign-in. Only the user id goes into the token: role and status are read from the database
          // on every request, and nothing sent with `trigger: "update"` is ever copied in (trap 24).
          return { sub: user.id, authenticatedAtSeconds: nowSeconds };
        }
        const authenticatedAtSeconds = token.authenticatedAtSeconds;
        if (
          typeof authenticatedAtSeconds !== "number" ||
          nowSeconds - authenticatedAtSeconds > configuration.sessionAbsoluteLifetimeSeconds
        ) {
          // Returning null makes Auth.js delete the session cookie.
          return null;
        }
        return { sub: token.sub, authenticatedAtSeconds };
      },
      session({ session, token }) {
        return { expires: session.expires, user: { id: token.sub ?? "" } } as typeof session;
      },
    },
  };
});
