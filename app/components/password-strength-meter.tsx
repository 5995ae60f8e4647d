"use client";

import { type StrengthScore, strengthLabels } from "@/lib/validation/password-policy";
import type { PasswordCheckState } from "./use-password-check";

interface PasswordStrengthMeterProps {
  id: string;
  state: PasswordCheckState;
}

/**
 * zxcvbn's score as a meter and in words (Very weak … Strong), with its warning and suggestions. The words
 * carry the meaning, so nobody depends on the meter's colour; the region is polite-live so a screen reader
 * hears the new rating after typing pauses. zxcvbn itself is loaded by `usePasswordCheck` on the first
 * keystroke, never with the page.
 */
export function PasswordStrengthMeter({ id, state }: PasswordStrengthMeterProps) {
  const check = state.status === "checked" ? state.check : null;
  const score: StrengthScore = check?.score ?? 0;
  return (
    <div className="strength" id={id} aria-live="polite" data-testid="password-strength">
      <meter
        className="strength-meter"
        min={0}
        max={4}
        low={2}
        high={3}
        optimum={4}
        value={score}
        aria-label="Password strength"
        aria-valuetext={check ? strengthLabels[score] : "Not rated yet"}
      />
      <p className="strength-label">
        {state.status === "empty" ? "Strength: shown as you type." : null}
        {state.status === "checking" ? "Strength: checking…" : null}
        {state.status === "unavailable" ? "Strength: the live check is unavailable; your password is checked when you submit." : null}
        {check ? (
          <>
            Strength: <strong data-score={score}>{strengthLabels[score]}</strong>
          </>
        ) : null}
      </p>
      {check?.feedback.warning ? <p className="strength-warning">{check.feedback.warning}</p> : null}
      {check && check.feedback.suggestions.length > 0 ? (
        <ul className="strength-suggestions">
          {check.feedback.suggestions.map((suggestion) => (
            <li key={suggestion}>{suggestion}</li>
          ))}
        </ul>
      ) : null}
    </div>
  );
}
