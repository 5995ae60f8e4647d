import { describe, expect, it } from "vitest";
import { type EmailMessage, renderEmail } from "@/lib/mail/templates";

type Template = EmailMessage["template"];

// One sample per template. The mapped type makes this fail to compile when a template is added without a
// sample here, so no template can escape these checks.
const samples: { [Name in Template]: Extract<EmailMessage, { template: Name }> } = {
  email_verification: {
    template: "email_verification",
    link: "https://bank.example/verify-email?token=verification-sample",
    expiresInMinutes: 1440,
  },
  registration_attempt_on_existing_account: { template: "registration_attempt_on_existing_account" },
  account_locked: { template: "account_locked", lockedForMinutes: 15 },
  password_reset: {
    template: "password_reset",
    link: "https://bank.example/reset-password?token=reset-sample",
    expiresInMinutes: 30,
  },
  password_changed: { template: "password_changed" },
  email_change_verification: {
    template: "email_change_verification",
    link: "https://bank.example/confirm-email?token=change-sample",
    expiresInMinutes: 60,
  },
  email_change_requested: { template: "email_change_requested" },
  email_changed: { template: "email_changed" },
  new_device_sign_in: {
    template: "new_device_sign_in",
    occurredAt: "2026-11-28 09:15 UTC",
    ipAddress: "203.0.113.9",
    userAgent: "Firefox on Linux",
  },
  recovery_code_used: { template: "recovery_code_used", remaining: 7 },
  recovery_codes_low: { template: "recovery_codes_low", remaining: 2 },
  authenticator_replaced: { template: "authenticator_replaced" },
  staff_invitation: {
    template: "staff_invitation",
    link: "https://bank.example/staff-invitation/invitation-sample",
    role: "support",
    expiresInMinutes: 1440,
  },
  mfa_reset_reenrolment: {
    template: "mfa_reset_reenrolment",
    link: "https://bank.example/reenrol-authenticator?token=reenrolment-sample",
    expiresInMinutes: 1440,
  },
};

const everySample = Object.values(samples) as EmailMessage[];

describe("renderEmail", () => {
  it.each(everySample.map((message) => [message.template, message] as const))(
    "renders %s with a subject, a body and no missing values",
    (_name, message) => {
      const rendered = renderEmail(message);
      expect(rendered.subject.trim().length).toBeGreaterThan(5);
      expect(rendered.subject).not.toContain("\n");
      expect(rendered.text.trim().length).toBeGreaterThan(40);
      for (const part of [rendered.subject, rendered.text]) {
        expect(part).not.toMatch(/undefined|null|NaN|\[object /);
      }
      expect(rendered.text).toContain("We never ask for your password by email.");
    },
  );

  it("gives every template its own subject", () => {
    const subjects = everySample.map((message) => renderEmail(message).subject);
    expect(new Set(subjects).size).toBe(everySample.length);
  });

  it.each(
    everySample.flatMap((message) => ("link" in message ? [[message.template, message] as const] : [])),
  )("puts the link of %s on a line of its own, with its lifetime", (_name, message) => {
    const { text } = renderEmail(message);
    expect(text.split("\n")).toContain(message.link);
    expect(text).toContain(`expires in ${message.expiresInMinutes} minutes`);
  });

  it("states the lock duration and the sign-in details it was given", () => {
    expect(renderEmail(samples.account_locked).text).toContain("locked for 15 minutes");
    const device = renderEmail(samples.new_device_sign_in).text;
    expect(device).toContain("2026-11-28 09:15 UTC");
    expect(device).toContain("203.0.113.9");
    expect(device).toContain("Firefox on Linux");
  });

  it("counts the recovery codes left in words that read right for none, one and several", () => {
    expect(renderEmail(samples.recovery_code_used).text).toContain("you have 7 recovery codes left");
    expect(renderEmail(samples.recovery_codes_low).text).toContain("You have 2 recovery codes left");
    expect(renderEmail({ template: "recovery_codes_low", remaining: 1 }).text).toContain("You have 1 recovery code left");
    expect(renderEmail({ template: "recovery_code_used", remaining: 0 }).text).toContain("you have no recovery codes left");
  });

  it("puts no link in templates that are given none", () => {
    for (const message of everySample.filter((candidate) => !("link" in candidate))) {
      expect(renderEmail(message).text).not.toMatch(/https?:\/\//);
    }
  });
});
