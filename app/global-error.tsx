"use client";

import "./globals.css";

/**
 * The last-resort boundary, shown when the root layout itself fails. It replaces the whole document, so it
 * brings its own <html> and <body>. The error is logged on the server; the browser learns only that something
 * went wrong: no message, no stack, no digest. Styling comes from globals.css classes because the production
 * CSP refuses inline style attributes.
 */
// `retry` (stable since Next 16.3) re-fetches and re-renders; `reset` would only re-render what already failed.
export default function GlobalError({ retry }: { error: unknown; retry: () => void }) {
  return (
    <html lang="en-GB">
      <head>
        <title>Something went wrong · Harbour Bank</title>
        <meta name="robots" content="noindex, nofollow" />
      </head>
      <body>
        <main className="shell">
          <div className="card auth-card">
            <p className="brand">Harbour Bank</p>
            <h1>Something went wrong</h1>
            <p className="muted">Please try again. If it keeps happening, contact us.</p>
            <button className="button" type="button" onClick={() => retry()}>
              Try again
            </button>
          </div>
        </main>
      </body>
    </html>
  );
}
