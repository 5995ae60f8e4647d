"use client";

import { startTransition, useActionState, useId } from "react";
import { isStepUpRequired, StepUpPrompt } from "@/app/components/step-up-prompt";
import type { ActionResult } from "@/lib/action";
import { maximumPasswordLength } from "@/lib/validation/fields";

type FormAction<T> = (previous: ActionResult<T> | null, input: FormData) => Promise<ActionResult<T>>;

interface MfaSectionProps {
  /** When the authenticator was set up, already formatted on the server; null when there is none yet. */
  enrolledSince: string | null;
  recoveryCodesLeft: number;
  /** At or below this many codes left, the section warns. */
  recoveryCodesLowThreshold: number;
  regenerateRecoveryCodes: FormAction<{ codes: string[] }>;
  startReplacingAuthenticator: FormAction<{ qrCodeDataUrl: string; secretForManualEntry: string }>;
  confirmReplacingAuthenticator: FormAction<null>;
  confirmStepUp: FormAction<null>;
}

function FailureMessage({ result }: { result: ActionResult<unknown> | null }) {
  // Field errors are shown next to their fields, and a step-up request by the step-up prompt.
  if (!result || result.ok || result.fieldErrors || isStepUpRequired(result)) return null;
  return (
    <p className="alert" role="alert">
      {result.message}
    </p>
  );
}

function FieldMessages({ id, messages }: { id: string; messages: readonly string[] | undefined }) {
  if (!messages || messages.length === 0) return null;
  return (
    <ul className="field-error" id={id}>
      {messages.map((message) => (
        <li key={message}>{message}</li>
      ))}
    </ul>
  );
}

function RegenerateRecoveryCodes({
  regenerateRecoveryCodes,
  confirmStepUp,
}: Pick<MfaSectionProps, "regenerateRecoveryCodes" | "confirmStepUp">) {
  const [result, formAction, pending] = useActionState(regenerateRecoveryCodes, null);
  // The retry after a confirmed step-up sends the same (empty) input again; a useActionState action must be
  // dispatched inside a transition.
  const retry = () => startTransition(() => formAction(new FormData()));
  return (
    <div>
      <form action={formAction}>
        <button className="button" type="submit" disabled={pending}>
          {pending ? "Making new codes…" : "Regenerate recovery codes"}
        </button>
      </form>
      <StepUpPrompt
        result={result}
        operation="regenerate_recovery_codes"
        confirmStepUp={confirmStepUp}
        onConfirmed={retry}
        purpose="new recovery codes"
      />
      <FailureMessage result={result} />
      {result?.ok ? (
        <div className="notice" role="status">
          <p>
            Your new recovery codes are below. Every earlier code no longer works. Write these down or store them
            somewhere safe now: they are shown only this once, and each works once.
          </p>
          <ol className="recovery-codes">
            {result.data.codes.map((code) => (
              <li key={code}>
                <code data-testid="recovery-code">{code}</code>
              </li>
            ))}
          </ol>
        </div>
      ) : null}
    </div>
  );
}

function ReplaceAuthenticator({
  startReplacingAuthenticator,
  confirmReplacingAuthenticator,
}: Pick<MfaSectionProps, "startReplacingAuthenticator" | "confirmReplacingAuthenticator">) {
  const [started, startAction, startPending] = useActionState(startReplacingAuthenticator, null);
  const [confirmed, confirmAction, confirmPending] = useActionState(confirmReplacingAuthenticator, null);
  const ids = { password: useId(), secondFactor: useId(), newCode: useId() };
  const startErrors = started && !started.ok ? started.fieldErrors : undefined;
  const confirmErrors = confirmed && !confirmed.ok ? confirmed.fieldErrors : undefined;

  if (confirmed?.ok) {
    return (
      <p className="notice" role="status">
        Your new authenticator app is set up. Codes from the old one no longer work, and we have emailed you about
        the change.
      </p>
    );
  }

  if (started?.ok) {
    return (
      <div>
        <p>
          Scan this QR code with the authenticator app on your new phone, or type the key below into it. Then enter
          the first code it shows. Until you do, your old authenticator keeps working; after ten minutes you would
          have to start again.
        </p>
        {/* A data: URL rendered on the server; next/image adds nothing for an inline SVG. */}
        {/* eslint-disable-next-line @next/next/no-img-element */}
        <img src={started.data.qrCodeDataUrl} alt="QR code for your new authenticator app" width={200} height={200} />
        <p>
          Key: <code data-testid="totp-secret">{started.data.secretForManualEntry}</code>
        </p>
        <form action={confirmAction} noValidate>
          <div className="field">
            <label htmlFor={ids.newCode}>Code from the new authenticator</label>
            <input
              id={ids.newCode}
              name="code"
              inputMode="numeric"
              autoComplete="one-time-code"
              maxLength={6}
              required
              aria-invalid={Boolean(confirmErrors?.code)}
              aria-describedby={confirmErrors?.code ? `${ids.newCode}-errors` : undefined}
            />
            <FieldMessages id={`${ids.newCode}-errors`} messages={confirmErrors?.code} />
          </div>
          <FailureMessage result={confirmed} />
          <button className="button" type="submit" disabled={confirmPending}>
            {confirmPending ? "Confirming…" : "Confirm new authenticator"}
          </button>
        </form>
      </div>
    );
  }

  return (
    <form action={startAction} noValidate>
      <p className="muted">
        Got a new phone? Confirm with your password and a code from your current authenticator app (or one of your
        recovery codes if the old phone is gone), then set up the new one.
      </p>
      <div className="field">
        <label htmlFor={ids.password}>Your password</label>
        <input
          id={ids.password}
          name="password"
          type="password"
          autoComplete="current-password"
          required
          maxLength={maximumPasswordLength}
          aria-invalid={Boolean(startErrors?.password)}
          aria-describedby={startErrors?.password ? `${ids.password}-errors` : undefined}
        />
        <FieldMessages id={`${ids.password}-errors`} messages={startErrors?.password} />
      </div>
      <div className="field">
        <label htmlFor={ids.secondFactor}>Current code or a recovery code</label>
        <input
          id={ids.secondFactor}
          name="secondFactor"
          autoComplete="one-time-code"
          required
          maxLength={64}
          aria-invalid={Boolean(startErrors?.secondFactor ?? startErrors?.code)}
          aria-describedby={startErrors?.secondFactor ?? startErrors?.code ? `${ids.secondFactor}-errors` : undefined}
        />
        <FieldMessages id={`${ids.secondFactor}-errors`} messages={[...(startErrors?.secondFactor ?? []), ...(startErrors?.code ?? [])]} />
      </div>
      <FailureMessage result={started} />
      <button className="button" type="submit" disabled={startPending}>
        {startPending ? "Checking…" : "Replace authenticator"}
      </button>
    </form>
  );
}

/**
 * The Security page's second-factor section: status, recovery codes and replacing the authenticator. There is
 * no way to turn the second factor off, and the section says so: online banking needs it.
 */
export function MfaSection(props: MfaSectionProps) {
  const { enrolledSince, recoveryCodesLeft, recoveryCodesLowThreshold } = props;
  return (
    <section className="card section" aria-labelledby="mfa-heading" data-testid="mfa-section">
      <h2 id="mfa-heading">Two-step sign-in</h2>
      {enrolledSince ? (
        <p data-testid="mfa-status">
          An authenticator app is set up for your account (since {enrolledSince}). Two-step sign-in cannot be
          turned off: every sign-in and every sensitive change needs a code from it.
        </p>
      ) : (
        <p data-testid="mfa-status">
          No authenticator app is set up yet: you will be asked to set one up at your next sign-in. Two-step
          sign-in cannot be turned off.
        </p>
      )}

      <h3>Recovery codes</h3>
      <p data-testid="recovery-codes-left">
        {recoveryCodesLeft === 1 ? "1 recovery code left." : `${recoveryCodesLeft} recovery codes left.`}
      </p>
      {recoveryCodesLeft <= recoveryCodesLowThreshold ? (
        <p className="alert" data-testid="recovery-codes-low">
          {recoveryCodesLeft === 0
            ? "You have no recovery codes left. Make a new set now, so that you can still sign in if you lose your phone."
            : "You are running out of recovery codes. Make a new set now, so that you can still sign in if you lose your phone."}
        </p>
      ) : null}
      <RegenerateRecoveryCodes regenerateRecoveryCodes={props.regenerateRecoveryCodes} confirmStepUp={props.confirmStepUp} />

      {enrolledSince ? (
        <>
          <h3>Replace authenticator</h3>
          <ReplaceAuthenticator
            startReplacingAuthenticator={props.startReplacingAuthenticator}
            confirmReplacingAuthenticator={props.confirmReplacingAuthenticator}
          />
        </>
      ) : null}
    </section>
  );
}
