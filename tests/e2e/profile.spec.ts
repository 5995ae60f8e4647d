import { expect, test } from "@playwright/test";
import { demoSignIn } from "./demo-credentials";
import { signInAs } from "./sign-in-helpers";

test("a customer sees their profile with the national identifier masked and changes their contact details", async ({ page }) => {
  const bob = demoSignIn((person) => person.email === "bob@example.com");
  await signInAs(page, bob);
  await page.getByRole("link", { name: "Profile" }).click();
  await expect(page.getByRole("heading", { name: "Profile", level: 1 })).toBeVisible();
  const details = page.getByTestId("profile-details");
  await expect(details).toContainText("Bob Brennan");
  await expect(details).toContainText("3 November 1979");
  // Only the last four characters of the identifier reach the browser.
  await expect(page.getByTestId("national-identifier")).toHaveText("•••• 321A");
  expect(await page.content()).not.toContain("QQ654321A");

  // A wrong current password is refused and nothing changes.
  await page.getByLabel("Phone number").fill("+44 7700 900 777");
  await page.getByLabel("Current password").fill("not my password!");
  await page.getByRole("button", { name: "Save contact details" }).click();
  await expect(page.getByText("Your current password is not correct.")).toBeVisible();
  await expect(page.getByTestId("phone")).toHaveText("+447700900456");

  // Bad input gets a clear message.
  await page.getByLabel("Phone number").fill("call me maybe");
  await page.getByLabel("Current password").fill(bob.password);
  await page.getByRole("button", { name: "Save contact details" }).click();
  await expect(page.getByText("Use digits, spaces and an optional + at the start.")).toBeVisible();

  await page.getByLabel("Phone number").fill("+44 7700 900 777");
  await page.getByLabel("Postal address").fill("7 Dock Road\nFalmouth\nTR11 4AA");
  await page.getByLabel("Current password").fill(bob.password);
  await page.getByRole("button", { name: "Save contact details" }).click();
  await expect(page.getByRole("status")).toHaveText("Your contact details are saved.");
  await expect(page.getByTestId("phone")).toHaveText("+447700900777");
  await page.reload();
  await expect(page.getByTestId("postal-address")).toHaveText("7 Dock Road\nFalmouth\nTR11 4AA");
});
