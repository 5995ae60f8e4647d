import { expect, test } from "@playwright/test";

// The demo server of this suite runs without SMTP_URL and outside strict production, so the development
// mailbox is on. The demo seed sends no mail, so the mailbox is empty here; the identity suites fill it and
// read their verification links from the JSON route.

test("the development mailbox page opens without signing in and shows its empty state", async ({ page, context }) => {
  expect(await context.cookies()).toEqual([]);
  const response = await page.goto("/dev/mailbox");
  expect(response?.status()).toBe(200);
  await expect(page).toHaveURL(/\/dev\/mailbox$/);
  await expect(page).toHaveTitle(/Development mailbox/);
  await expect(page.getByRole("heading", { level: 1, name: "Development mailbox" })).toBeVisible();
  await expect(page.getByText("No messages yet.")).toBeVisible();
  expect(response?.headers()["content-security-policy"]).toContain("'strict-dynamic'");
});

test("the mailbox's JSON route answers { messages: [] } without signing in, never cached", async ({ request }) => {
  const response = await request.get("/dev/mailbox/messages");
  expect(response.status()).toBe(200);
  expect(response.headers()["content-type"]).toContain("application/json");
  expect(response.headers()["cache-control"]).toBe("no-store");
  expect(await response.json()).toEqual({ messages: [] });

  const filtered = await request.get("/dev/mailbox/messages?to=nobody%40example.com");
  expect(filtered.status()).toBe(200);
  expect(await filtered.json()).toEqual({ messages: [] });
});

test("a write to the mailbox's JSON route is refused", async ({ request }) => {
  const response = await request.post("/dev/mailbox/messages", {
    headers: { origin: "https://evil.example" },
    data: {},
  });
  expect(response.status()).toBe(403);
});
