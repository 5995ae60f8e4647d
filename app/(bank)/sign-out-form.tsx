"use client";

import { broadcastSessionMessage } from "@/app/components/session-channel";

/**
 * A plain form posting to the /logout route handler, which revokes the session and answers with
 * `Clear-Site-Data` (a server action cannot set that header). It works without JavaScript, and the browser
 * sends the Origin header that the route requires. With JavaScript, it also tells the bank's other open tabs,
 * which share this session, to leave too.
 */
export function SignOutForm() {
  return (
    <form method="post" action="/logout" onSubmit={() => broadcastSessionMessage({ type: "signed-out", reason: "signed-out" })}>
      <button className="button-quiet" type="submit">
        Sign out
      </button>
    </form>
  );
}
