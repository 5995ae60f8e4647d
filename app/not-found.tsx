import Link from "next/link";

export default function NotFound() {
  return (
    <main className="shell">
      <div className="card auth-card">
        <h1>Page not found</h1>
        <p className="muted">We could not find that page.</p>
        <Link href="/">Back to your accounts</Link>
      </div>
    </main>
  );
}
