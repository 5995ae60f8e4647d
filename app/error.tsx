"use client";

export default function ErrorPage({ reset }: { error: Error & { digest?: string }; reset: () => void }) {
  // The error itself is logged on the server; the browser only learns that something went wrong.
  return (
    <main className="shell">
      <div className="card auth-card">
        <h1>Something went wrong</h1>
        <p className="muted">Please try again. If it keeps happening, contact us.</p>
        <button className="button" type="button" onClick={reset}>
          Try again
        </button>
      </div>
    </main>
  );
}
