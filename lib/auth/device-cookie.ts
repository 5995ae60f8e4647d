import "server-only";
import crypto from "node:crypto";
import { cookies } from "next/headers";

/**
 * A random, long-lived identifier of this browser, used only to notice a sign-in from a device the account
 * has not used before. `__Host-` so no subdomain can plant one; HttpOnly so no script reads it. It proves
 * nothing by itself (it is not a credential): its only effect is that a missing or unknown value triggers an
 * email to the account's owner.
 */
export const deviceCookieName = "__Host-bank-device";
const deviceCookieMaxAgeSeconds = 400 * 24 * 60 * 60;

export async function deviceIdForSignIn(): Promise<string> {
  const store = await cookies();
  const existing = store.get(deviceCookieName)?.value;
  if (existing && /^[0-9a-f-]{36}$/.test(existing)) return existing;
  const deviceId = crypto.randomUUID();
  store.set(deviceCookieName, deviceId, {
    httpOnly: true,
    secure: true,
    sameSite: "lax",
    path: "/",
    maxAge: deviceCookieMaxAgeSeconds,
  });
  return deviceId;
}
