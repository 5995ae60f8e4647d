import "server-only";
import NextAuth, { CredentialsSignin } from "next-auth";
import Credentials from "next-auth/providers/credentials";
import { authenticateWithPassword } from "@/lib/auth/authenticate-with-password";
import { env } from "@/lib/env";
import { logger } from "@/lib/logger";
import { sameOriginRedirectUrl } from "@/lib/security/safe-redirect";

import { sessionCookieName } from "@/lib/auth/cookie-names";

export { sessionCookieName };

/**
 * Auth.js's cookies, pinned rather than left to its defaults. The defaults with `useSecureCookies` are the same
 * today, but they depend on that flag and on the library version, and proxy.ts and the sign-out route rely on
 * these exact names. Every cookie is HttpOnly (no script reads it), Secure, path "/" and SameSite=Lax (sent on
 * top-level navigation to the bank, never on cross-site subresource requests or cross-site POSTs). The CSRF
 * cookie is `__Host-`: no subdomain can set or overwrite it, which is what a double-submit token needs.
 */
const secureCookieOptions = { httpOnly: true, secure: true, sameSite: "lax", path: "/" } as const;
export const authCookies = {
  sessionToken: { name: sessionCookieName, options: secureCookieOptions },
  callbackUrl: { name: "__Secure-authjs.callback-url", options: secureCookieOptions },
  csrfToken: { name: "__Host-authjs.csrf-token", options: secureCookieOptions },
} as const;

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
    cookies: authCookies,
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
      // Every redirect Auth.js makes (after sign-in, after sign-out, the callbackUrl it stores in a cookie) goes
      // through here. Its default accepts any URL on the base origin as given; this one reduces same-origin
      // URLs to a checked path and sends anything foreign, protocol-relative or encoded-to-escape to "/".
      redirect({ url, baseUrl }) {
        return sameOriginRedirectUrl(url, baseUrl);
      },
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
