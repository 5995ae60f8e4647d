"use client";

import { useEffect, useState } from "react";
import { checkPassword, type PasswordCheck, type PasswordUserInputs } from "@/lib/validation/password-policy";

export type PasswordCheckState =
  | { status: "empty" }
  | { status: "checking" }
  | { status: "checked"; check: PasswordCheck }
  | { status: "unavailable" };

interface Settled {
  key: string;
  state: PasswordCheckState;
}

/**
 * Checks the password against the policy as it is typed, for the rules list and the strength meter. Nothing
 * happens until the first character: that is when checkPassword first imports zxcvbn, so a visitor who never
 * types a password never downloads it. Results that arrive after the password has changed again are dropped.
 */
export function usePasswordCheck(password: string, userInputs: PasswordUserInputs): PasswordCheckState {
  const { legalName, email, dateOfBirth } = userInputs;
  const key = JSON.stringify([password, legalName, email, dateOfBirth]);
  const [settled, setSettled] = useState<Settled | null>(null);

  useEffect(() => {
    if (password.length === 0) return;
    let current = true;
    checkPassword(password, { legalName, email, dateOfBirth }).then(
      (check) => {
        if (current) setSettled({ key, state: { status: "checked", check } });
      },
      () => {
        // The strength code could not be downloaded (a dropped connection). The rules are still enforced on
        // submit and by the server; the form says the live check is unavailable instead of showing stale ticks.
        if (current) setSettled({ key, state: { status: "unavailable" } });
      },
    );
    return () => {
      current = false;
    };
  }, [key, password, legalName, email, dateOfBirth]);

  if (password.length === 0) return { status: "empty" };
  if (settled?.key === key) return settled.state;
  // While a newer check runs, the previous result stays on screen rather than flickering to "checking".
  return settled?.state.status === "checked" ? settled.state : { status: "checking" };
}
