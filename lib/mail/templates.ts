/**
 * Every email the bank sends, as plain text. Messages carry no secret beyond a single-use, short-lived link
 * whose token is stored only as a hash; they never include balances, account numbers or the password.
 * Each template is a pure function so that the wording is tested without a mail server.
 */
export type EmailMessage =
  | { template: "email_verification"; link: string; expiresInMinutes: number }
  | { template: "registration_attempt_on_existing_account" }
  | { template: "account_locked"; lockedForMinutes: number }
  | { template: "password_reset"; link: string; expiresInMinutes: number }
  | { template: "password_changed" }
  | { template: "email_change_verification"; link: string; expiresInMinutes: number }
  | { template: "email_change_requested" }
  | { template: "email_changed" }
  | { template: "new_device_sign_in"; occurredAt: string; ipAddress: string; userAgent: string }
  | { template: "recovery_code_used"; remaining: number }
  | { template: "recovery_codes_low"; remaining: number }
  | { template: "authenticator_replaced" }
  | { template: "staff_invitation"; link: string; role: "support" | "auditor"; expiresInMinutes: number }
  | { template: "mfa_reset_reenrolment"; link: string; expiresInMinutes: number };

export interface RenderedEmail {
  subject: string;
  text: string;
}

const signature = "\n\nIf you did not expect this message, contact the bank using the number on your card. We never ask for your password by email.";

function codesLeft(remaining: number): string {
  if (remaining === 0) return "no recovery codes";
  return remaining === 1 ? "1 recovery code" : `${remaining} recovery codes`;
}

export function renderEmail(message: EmailMessage): RenderedEmail {
  switch (message.template) {
    case "email_verification":
      return {
        subject: "Confirm your email address",
        text: `Welcome. Confirm your email address to finish opening your account:\n\n${message.link}\n\nThe link works once and expires in ${message.expiresInMinutes} minutes.${signature}`,
      };
    case "registration_attempt_on_existing_account":
      return {
        subject: "Someone tried to register with your email address",
        text: `Someone tried to open a new account with this email address, which already belongs to your account. Nothing was changed. If it was you, sign in instead, or reset your password from the sign-in page.${signature}`,
      };
    case "account_locked":
      return {
        subject: "Your account has been locked",
        text: `After several failed sign-in attempts your account has been locked for ${message.lockedForMinutes} minutes. If these attempts were not yours, reset your password once the lock ends, or call us.${signature}`,
      };
    case "password_reset":
      return {
        subject: "Reset your password",
        text: `Use this link to choose a new password:\n\n${message.link}\n\nThe link works once and expires in ${message.expiresInMinutes} minutes. Resetting your password signs you out everywhere.${signature}`,
      };
    case "password_changed":
      return {
        subject: "Your password was changed",
        text: `The password of your account was changed, and every session was signed out.${signature}`,
      };
    case "email_change_verification":
      return {
        subject: "Confirm your new email address",
        text: `Confirm this address as the new email address of your bank account:\n\n${message.link}\n\nThe link works once and expires in ${message.expiresInMinutes} minutes.${signature}`,
      };
    case "email_change_requested":
      return {
        subject: "A change of your email address was requested",
        text: `Someone signed in to your account asked to change its email address. The change happens only when the new address is confirmed.${signature}`,
      };
    case "email_changed":
      return {
        subject: "Your email address was changed",
        text: `The email address of your account was changed. Messages now go to the new address.${signature}`,
      };
    case "new_device_sign_in":
      return {
        subject: "New sign-in to your account",
        text: `Your account was signed in to from a device we have not seen before.\n\nTime: ${message.occurredAt}\nAddress: ${message.ipAddress}\nBrowser: ${message.userAgent}${signature}`,
      };
    case "recovery_code_used":
      return {
        subject: "A recovery code was used on your account",
        text: `One of your recovery codes was just used instead of your authenticator app. Each code works once; you have ${codesLeft(message.remaining)} left. If this was not you, reset your password and call us.${signature}`,
      };
    case "recovery_codes_low":
      return {
        subject: "You are running out of recovery codes",
        text: `You have ${codesLeft(message.remaining)} left. Sign in and create a new set on the Security page, so that you can still get in if you lose your authenticator app. A new set replaces every old code.${signature}`,
      };
    case "authenticator_replaced":
      return {
        subject: "Your authenticator app was changed",
        text: `A new authenticator app was set up for your account. Codes from the previous one no longer work. If you did not do this, call us at once.${signature}`,
      };
    case "staff_invitation":
      return {
        subject: "You are invited to the bank's back office",
        text: `An admin invited you to join the back office as ${message.role}. Follow this link to choose a password and set up an authenticator app:\n\n${message.link}\n\nThe link works once and expires in ${message.expiresInMinutes} minutes (${Math.round(message.expiresInMinutes / 60)} hours).${signature}`,
      };
    case "mfa_reset_reenrolment":
      return {
        subject: "Your second factor was reset",
        text: `At your request, our staff reset the second factor of your account: your authenticator app and your unused recovery codes no longer work, and every session was signed out.\n\nSet up a new authenticator app with this link (you will need your password):\n\n${message.link}\n\nThe link works once and expires in ${message.expiresInMinutes} minutes. Until then you cannot sign in. If you did not ask for this, call us at once.${signature}`,
      };
  }
}
