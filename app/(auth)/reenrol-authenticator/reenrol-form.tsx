"use client";

import Link from "next/link";
import { useActionState, useId } from "react";
import { FieldErrorList } from "@/app/components/field-errors";
import type { ActionResult } from "@/lib/action";
import type { TotpProvisioning } from "@/lib/auth/totp";

type FormAction<T> = (previous: ActionResult<T> | null, input: FormData) => Promise<ActionResult<T>>;

interface ReenrolFormProps {
  token: string;
  /** Whether the link can still be used, as the page found it when it was last rendered. */
  usable: boolean;
  startAction: FormAction<TotpProvisioning>;
  completeAction: FormAction<{ recoveryCodes: string[] }>;
}

/**
 * Two steps on one page: the password (with the link's token) shows a new QR code; the first code from the app
 * enrols it and shows the new recovery codes once. The page renders again after the enrolment, and by then the
 * link is spent: the recovery codes, kept in this component's state, must win over the "link used" message.
 */
export function ReenrolForm({ token, usable, startAction, completeAction }: ReenrolFormProps) {
  const [started, start, starting] = useActionState(startAction, null);
  const [completed, complete, completing] = useActionState(completeAction, null);
  const passwordId = useId();
  const codeId = useId();
  const provisioning = started?.ok ? started.data : null;
  const recoveryCodes = completed?.ok ? completed.data.recoveryCodes : null;

  if (recoveryCodes) {
    return (
      <div data-testid="reenrolment-done">
        <p className="notice" role="status">
          Your new authenticator app is set up.
        </p>
        <h2>Your recovery codes</h2>
        <p>
          If you lose your phone, each of these codes signs you in once instead of a code from the app. Save them
          somewhere safe now: they are not shown again.
        </p>
        <ul className="recovery-codes">
          {recoveryCodes.map((code) => (
            <li key={code} data-testid="recovery-code">
              <code>{code}</code>
            </li>
          ))}
        </ul>
        <p>
          <Link className="button" href="/login">
            I have saved my recovery codes — sign in
          </Link>
        </p>
      </div>
    );
  }

  if (!usable) {
    return (
      <p className="alert" role="alert">
        This link is invalid, has already been used or has expired. Call us to ask for a new one.{" "}
        <Link href="/login">Back to sign-in</Link>.
      </p>
    );
  }

  if (provisioning) {
    const codeErrors = completed && !completed.ok ? (completed.fieldErrors?.code ?? []) : [];
    return (
      <div>
        <p>Scan this QR code with your authenticator app, or type the secret key into it, then enter the code it shows.</p>
        {/* A data: URL made on the server; next/image would add nothing to an inline SVG. */}
        {/* eslint-disable-next-line @next/next/no-img-element */}
        <img src={provisioning.qrCodeDataUrl} alt="QR code for your authenticator app" width={200} height={200} />
        <p>
          Secret key: <code className="secret-key" data-testid="totp-secret">{provisioning.secretForManualEntry}</code>
        </p>
        <form action={complete} noValidate>
          <input type="hidden" name="token" value={token} />
          <div className="field">
            <label htmlFor={codeId}>Code from the app</label>
            <input id={codeId} name="code" inputMode="numeric" autoComplete="one-time-code" maxLength={6} required />
            <FieldErrorList id={`${codeId}-errors`} messages={codeErrors} />
          </div>
          <button className="button" type="submit" disabled={completing}>
            {completing ? "Checking…" : "Set up authenticator"}
          </button>
        </form>
        {completed && !completed.ok && !completed.fieldErrors ? (
          <p className="alert" role="alert">
            {completed.message}
          </p>
        ) : null}
      </div>
    );
  }

  const passwordErrors = started && !started.ok ? (started.fieldErrors?.password ?? []) : [];
  return (
    <div>
      <form action={start} noValidate>
        <input type="hidden" name="token" value={token} />
        <div className="field">
          <label htmlFor={passwordId}>Your password</label>
          <input id={passwordId} name="password" type="password" autoComplete="current-password" required />
          <FieldErrorList id={`${passwordId}-errors`} messages={passwordErrors} />
        </div>
        <button className="button" type="submit" disabled={starting}>
          {starting ? "Checking…" : "Continue"}
        </button>
      </form>
      {started && !started.ok && !started.fieldErrors ? (
        <p className="alert" role="alert">
          {started.message}
        </p>
      ) : null}
    </div>
  );
}
