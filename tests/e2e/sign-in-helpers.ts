import { expect, type Page } from "@playwright/test";

/** Who signs in: an email, a password and, once sign-in asks for it, the authenticator secret. */
export interface SignInPerson {
  email: string;
  password: string;
  totpSecret?: string;
}

/**
 * Signs in through the real form and waits for the dashboard. The one place that knows how many steps sign-in
 * takes, so that specs do not each carry their own copy.
 */
export async function signInAs(page: Page, person: SignInPerson): Promise<void> {
  await page.goto("/login");
  await page.getByLabel("Email").fill(person.email);
  await page.getByLabel("Password", { exact: true }).fill(person.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("heading", { name: /Your accounts|Staff sign-in/ })).toBeVisible();
}
