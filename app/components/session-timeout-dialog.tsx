"use client";

import { usePathname } from "next/navigation";
import { useCallback, useEffect, useRef, useState } from "react";
import type { SessionStatus } from "@/lib/auth/session";
import {
  openSessionChannel,
  parseSessionChannelMessage,
  type SessionChannelMessage,
  signOutAndLeave,
  type SignOutReason,
} from "./session-channel";

/**
 * The session-timeout warning. The server decides when a session ends (lib/auth/sessions.ts); this dialog only
 * knows the deadline, from the server render and from polling GET /api/session (which does not count as
 * activity), and warns `warningSeconds` before it. "Stay signed in" posts to /api/session/keep-alive, which does
 * count. At zero it asks the server once more (another tab may have been active) and otherwise signs out and
 * lands on /login?reason=timeout. Open tabs share one session and agree through a BroadcastChannel: a deadline
 * that moved in one moves in all, and a sign-out in one signs out all.
 */

const pollIntervalMilliseconds = 15_000;

interface Deadlines {
  /** Deadlines on this browser's clock: the server's times shifted by the difference between the two clocks. */
  idleExpiresAtMilliseconds: number;
  absoluteExpiresAtMilliseconds: number;
}

function isSessionStatus(value: unknown): value is SessionStatus {
  if (typeof value !== "object" || value === null) return false;
  const status = value as Record<string, unknown>;
  return ["idleExpiresAt", "absoluteExpiresAt", "now"].every(
    (key) => typeof status[key] === "string" && Number.isFinite(Date.parse(status[key] as string)),
  );
}

function deadlinesFrom(status: SessionStatus): Deadlines {
  // A browser whose clock is wrong still counts down correctly: only differences of server times are used.
  const clockOffset = Date.now() - Date.parse(status.now);
  return {
    idleExpiresAtMilliseconds: Date.parse(status.idleExpiresAt) + clockOffset,
    absoluteExpiresAtMilliseconds: Date.parse(status.absoluteExpiresAt) + clockOffset,
  };
}

type StatusAnswer = { kind: "status"; status: SessionStatus } | { kind: "ended" } | { kind: "unknown" };

async function askServer(method: "GET" | "POST"): Promise<StatusAnswer> {
  try {
    const response = await fetch(method === "GET" ? "/api/session" : "/api/session/keep-alive", {
      method,
      credentials: "same-origin",
      cache: "no-store",
      headers: { accept: "application/json" },
    });
    if (response.status === 401) return { kind: "ended" };
    if (!response.ok) return { kind: "unknown" };
    const body: unknown = await response.json();
    return isSessionStatus(body) ? { kind: "status", status: body } : { kind: "unknown" };
  } catch {
    // Offline or a network error: say nothing new. At the deadline the tab signs out anyway.
    return { kind: "unknown" };
  }
}

function formatCountdown(seconds: number): string {
  const minutes = Math.floor(seconds / 60);
  const rest = seconds % 60;
  return minutes > 0 ? `${minutes}:${String(rest).padStart(2, "0")}` : `${seconds} second${seconds === 1 ? "" : "s"}`;
}

/** Screen readers hear the countdown at these moments, not every second (which would drown everything else). */
function isAnnouncedMoment(seconds: number, warningSeconds: number): boolean {
  return seconds === warningSeconds || seconds % 15 === 0 || seconds === 10 || seconds <= 5;
}

export function SessionTimeoutDialog({ initialStatus }: { initialStatus: SessionStatus }) {
  const warningSeconds = initialStatus.warningSeconds;
  const dialogRef = useRef<HTMLDialogElement>(null);
  const channelRef = useRef<BroadcastChannel | null>(null);
  const deadlinesRef = useRef<Deadlines>(deadlinesFrom(initialStatus));
  // Set once the tab has started to leave: nothing may reopen the dialog or ask the server after that.
  const leavingRef = useRef(false);
  const finalCheckRef = useRef(false);
  const [remainingSeconds, setRemainingSeconds] = useState<number | null>(null);
  const [announcement, setAnnouncement] = useState("");
  const [absoluteLimitBinds, setAbsoluteLimitBinds] = useState(false);
  const pathname = usePathname();

  const post = useCallback((message: SessionChannelMessage) => channelRef.current?.postMessage(message), []);

  const leave = useCallback(
    (reason: SignOutReason, { tellOtherTabs }: { tellOtherTabs: boolean }) => {
      if (leavingRef.current) return;
      leavingRef.current = true;
      if (tellOtherTabs) post({ type: "signed-out", reason });
      void signOutAndLeave(reason);
    },
    [post],
  );

  /** Why the session is over, judged by which deadline has passed. */
  const reasonNow = useCallback((): SignOutReason => {
    const { idleExpiresAtMilliseconds, absoluteExpiresAtMilliseconds } = deadlinesRef.current;
    const now = Date.now();
    if (now >= absoluteExpiresAtMilliseconds) return "expired";
    return now >= idleExpiresAtMilliseconds ? "timeout" : "signed-out";
  }, []);

  /** Takes new deadlines. The idle deadline only moves forward: a stale answer never shortens a session. */
  const adopt = useCallback(
    (next: Deadlines, { tellOtherTabs }: { tellOtherTabs: boolean }) => {
      const current = deadlinesRef.current;
      if (next.idleExpiresAtMilliseconds <= current.idleExpiresAtMilliseconds) return;
      deadlinesRef.current = {
        idleExpiresAtMilliseconds: next.idleExpiresAtMilliseconds,
        absoluteExpiresAtMilliseconds: Math.min(next.absoluteExpiresAtMilliseconds, current.absoluteExpiresAtMilliseconds),
      };
      if (tellOtherTabs) post({ type: "deadlines", ...deadlinesRef.current });
    },
    [post],
  );

  const handleAnswer = useCallback(
    (answer: StatusAnswer) => {
      if (answer.kind === "status") adopt(deadlinesFrom(answer.status), { tellOtherTabs: true });
      // 401: the session was revoked (elsewhere, or it timed out): every tab of it leaves.
      if (answer.kind === "ended") leave(reasonNow(), { tellOtherTabs: true });
    },
    [adopt, leave, reasonNow],
  );

  const refresh = useCallback(async () => {
    if (leavingRef.current) return;
    handleAnswer(await askServer("GET"));
  }, [handleAnswer]);

  const closeDialog = useCallback(() => {
    if (dialogRef.current?.open) dialogRef.current.close();
    setRemainingSeconds(null);
    setAnnouncement("");
  }, []);

  const staySignedIn = useCallback(async () => {
    if (leavingRef.current) return;
    const answer = await askServer("POST");
    handleAnswer(answer);
    if (answer.kind === "status") closeDialog();
  }, [closeDialog, handleAnswer]);

  /** At the deadline: one last question to the server, since another tab may have been active after all. */
  const finalCheck = useCallback(async () => {
    if (finalCheckRef.current || leavingRef.current) return;
    finalCheckRef.current = true;
    const answer = await askServer("GET");
    finalCheckRef.current = false;
    if (answer.kind === "status") {
      const next = deadlinesFrom(answer.status);
      const deadline = Math.min(next.idleExpiresAtMilliseconds, next.absoluteExpiresAtMilliseconds);
      if (deadline > Date.now() + 1_000) {
        adopt(next, { tellOtherTabs: true });
        return;
      }
    }
    leave(reasonNow() === "expired" ? "expired" : "timeout", { tellOtherTabs: true });
  }, [adopt, leave, reasonNow]);

  // Once a second: open, update or close the dialog; at zero, end the session.
  useEffect(() => {
    const evaluate = () => {
      if (leavingRef.current) return;
      const { idleExpiresAtMilliseconds, absoluteExpiresAtMilliseconds } = deadlinesRef.current;
      const deadline = Math.min(idleExpiresAtMilliseconds, absoluteExpiresAtMilliseconds);
      const remainingMilliseconds = deadline - Date.now();
      if (remainingMilliseconds <= 0) {
        void finalCheck();
        return;
      }
      const seconds = Math.ceil(remainingMilliseconds / 1000);
      if (seconds > warningSeconds) {
        closeDialog();
        return;
      }
      const dialog = dialogRef.current;
      const opening = dialog !== null && !dialog.open;
      if (opening) dialog.showModal();
      setRemainingSeconds(seconds);
      setAbsoluteLimitBinds(absoluteExpiresAtMilliseconds <= idleExpiresAtMilliseconds);
      if (opening || isAnnouncedMoment(seconds, warningSeconds)) {
        setAnnouncement(`You will be signed out in ${formatCountdown(seconds)}.`);
      }
    };
    evaluate();
    const interval = window.setInterval(evaluate, 1_000);
    return () => window.clearInterval(interval);
  }, [closeDialog, finalCheck, warningSeconds]);

  // The other tabs: their deadlines and their sign-outs.
  useEffect(() => {
    const channel = openSessionChannel();
    channelRef.current = channel;
    if (!channel) return;
    channel.onmessage = (event: MessageEvent<unknown>) => {
      const message = parseSessionChannelMessage(event.data);
      if (!message) return;
      if (message.type === "deadlines") adopt(message, { tellOtherTabs: false });
      // This tab posts /logout itself before going to the sign-in page: were it to arrive there while the other
      // tab's sign-out is still on its way, the sign-in page would see a live session and send it back in.
      if (message.type === "signed-out") leave(message.reason, { tellOtherTabs: false });
    };
    return () => {
      channel.close();
      channelRef.current = null;
    };
  }, [adopt, leave]);

  // A server render is activity: its deadline is news for the other tabs.
  useEffect(() => {
    adopt(deadlinesFrom(initialStatus), { tellOtherTabs: false });
    post({ type: "deadlines", ...deadlinesRef.current });
  }, [adopt, initialStatus, post]);

  // A client-side navigation was activity on the server (the layout, and so this component, did not re-render):
  // ask for the new deadline. Also poll, and ask again whenever the tab comes back into view.
  useEffect(() => {
    void refresh();
  }, [pathname, refresh]);
  useEffect(() => {
    const poll = () => void refresh();
    const onVisibilityChange = () => {
      if (document.visibilityState === "visible") poll();
    };
    const interval = window.setInterval(poll, pollIntervalMilliseconds);
    window.addEventListener("focus", poll);
    document.addEventListener("visibilitychange", onVisibilityChange);
    return () => {
      window.clearInterval(interval);
      window.removeEventListener("focus", poll);
      document.removeEventListener("visibilitychange", onVisibilityChange);
    };
  }, [refresh]);

  return (
    <dialog
      ref={dialogRef}
      className="session-dialog"
      role="alertdialog"
      aria-modal="true"
      aria-labelledby="session-timeout-title"
      aria-describedby="session-timeout-description"
      data-testid="session-timeout-dialog"
      onCancel={(event) => {
        // Escape is an answer from someone who is there: it counts as "Stay signed in", not as a dismissal
        // that would leave the countdown running out of sight.
        event.preventDefault();
        void staySignedIn();
      }}
    >
      <h2 id="session-timeout-title">Are you still there?</h2>
      <p id="session-timeout-description">
        {absoluteLimitBinds
          ? "For your security, every session ends some hours after sign-in. Save what you are doing; you will need to sign in again."
          : "For your security, we sign you out when you have been inactive for a while."}
      </p>
      <p className="session-dialog-countdown" aria-hidden="true" data-testid="session-timeout-countdown">
        {remainingSeconds === null ? "" : `Signing out in ${formatCountdown(remainingSeconds)}`}
      </p>
      <p className="visually-hidden" aria-live="polite" aria-atomic="true">
        {announcement}
      </p>
      <div className="session-dialog-actions">
        {absoluteLimitBinds ? null : (
          <button className="button" type="button" autoFocus onClick={() => void staySignedIn()}>
            Stay signed in
          </button>
        )}
        <button className="button-quiet" type="button" onClick={() => leave("signed-out", { tellOtherTabs: true })}>
          Sign out now
        </button>
      </div>
    </dialog>
  );
}
