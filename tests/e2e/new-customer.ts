import crypto from "node:crypto";
import { type APIRequestContext, expect, type Page } from "@playwright/test";

/** The password every customer registered by the end-to-end specs uses. */
export const newCustomerPassword = "Quiet-lantern-harbour-47!";

export interface MailboxMessage {
  to: string;
  subject: string;
  text: string;
}

function uniqueEmail(label: string): string {
  return `e2e-${label}-${crypto.randomBytes(4).toString("hex")}@example.com`;
}

/**
 * The path and query of the first link in the newest development-mailbox message to `email` with `subject`,
 * waited for (mail goes out after the commit, through the outbox).
 */
export async function mailboxLink(request: APIRequestContext, email: string, subject: string): Promise<string> {
  let link: string | undefined;
  await expect
    .poll(
      async () => {
        const response = await request.get(`/dev/mailbox/messages?to=${encodeURIComponent(email)}`);
        const { messages } = (await response.json()) as { messages: MailboxMessage[] };
        const match = messages.find((message) => message.subject === subject)?.text.match(/https:\/\/\S+token=[A-Za-z0-9_-]+/);
        link = match ? new URL(match[0]).pathname + new URL(match[0]).search : undefined;
        return Boolean(link);
      },
      { timeout: 15_000 },
    )
    .toBe(true);
  if (!link) throw new Error("unreachable");
  return link;
}

/**
 * Registers a customer through the real form and confirms the address through the development mailbox's link.
 * The customer has never signed in, so has no authenticator yet: the first sign-in enrols one. Specs that change
 * a person's authenticator or lock them out use such a customer of their own, so that the seeded demo users
 * the other specs sign in as keep their secrets and their lock counters.
 */
export async function registerVerifiedCustomer(page: Page, label: string): Promise<string> {
  const email = uniqueEmail(label);
  await page.goto("/register");
  // Enabled once React has hydrated the form: fields typed into before that could be undone by hydration.
  await expect(page.getByRole("button", { name: /open (my|an) account|register/i })).toBeEnabled();
  await page.getByLabel("Legal name").fill("Robin Example");
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Date of birth").fill("1990-04-12");
  await page.getByLabel("Password", { exact: true }).fill(newCustomerPassword);
  await page.getByLabel("Confirm password").fill(newCustomerPassword);
  await page.getByLabel(/terms/i).check();
  await page.getByRole("button", { name: /open (my|an) account|register/i }).click();
  await expect(page.getByRole("status")).toContainText("Check your email");
  await page.goto(await mailboxLink(page.request, email, "Confirm your email address"));
  await page.getByRole("button", { name: "Confirm my email address" }).click();
  await expect(page.getByRole("status")).toContainText("Your email address is confirmed");
  return email;
}
