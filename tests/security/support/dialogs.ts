import type { Page } from "@playwright/test";

/**
 * Records (and dismisses) every alert, confirm or prompt the page opens: an injected script's usual way of
 * proving it ran. Tests assert the returned list stays empty.
 */
export function recordDialogs(page: Page): string[] {
  const dialogs: string[] = [];
  page.on("dialog", (dialog) => {
    dialogs.push(dialog.message());
    void dialog.dismiss();
  });
  return dialogs;
}
