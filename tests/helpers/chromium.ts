/**
 * How every Playwright suite launches Chromium: Debian's /usr/bin/chromium (Playwright's own browser download
 * cannot work on these machines, STACK-NOTES trap 10), with the flags that keep it from reaching out to the
 * network this machine does not have.
 */
export const debianChromiumLaunchOptions = {
  executablePath: "/usr/bin/chromium",
  args: [
    "--no-sandbox",
    "--disable-dev-shm-usage",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-default-apps",
    "--disable-sync",
    "--no-first-run",
  ],
};
