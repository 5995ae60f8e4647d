"use client";

import { passwordRules } from "@/lib/validation/password-policy";
import type { PasswordCheckState } from "./use-password-check";

interface PasswordRulesProps {
  id: string;
  state: PasswordCheckState;
}

type RuleStatus = "met" | "not-met" | "unknown";

const statusText: Record<RuleStatus, { symbol: string; words: string }> = {
  met: { symbol: "✓", words: "Met:" },
  "not-met": { symbol: "✗", words: "Not met:" },
  unknown: { symbol: "•", words: "" },
};

/**
 * The password rules with a tick or a cross for each as the customer types. The status is written out for
 * screen readers ("Met:" / "Not met:") and shown as ✓ / ✗ text, never by colour alone.
 */
export function PasswordRules({ id, state }: PasswordRulesProps) {
  const failed = state.status === "checked" ? new Set(state.check.failures.map((failure) => failure.rule)) : null;
  return (
    <ul className="password-rules" id={id} aria-label="Password rules">
      {passwordRules.map((rule) => {
        const status: RuleStatus = failed === null ? "unknown" : failed.has(rule.id) ? "not-met" : "met";
        const { symbol, words } = statusText[status];
        return (
          <li key={rule.id} data-rule={rule.id} data-status={status}>
            <span className="rule-symbol" aria-hidden="true">
              {symbol}
            </span>{" "}
            {words ? <span className="visually-hidden">{words} </span> : null}
            {rule.requirement}
          </li>
        );
      })}
    </ul>
  );
}
