import type { Metadata } from "next";
import { headers } from "next/headers";
import type { ReactNode } from "react";
import "./globals.css";

export const metadata: Metadata = {
  title: { default: "Harbour Bank", template: "%s · Harbour Bank" },
  description: "Your accounts, safely.",
  robots: { index: false, follow: false },
};

export default async function RootLayout({ children }: { children: ReactNode }) {
  // Reading the request headers makes every page render per request. A prerendered page would carry no CSP
  // nonce, and its scripts would then be blocked by the strict-dynamic policy (STACK-NOTES trap 22).
  await headers();
  return (
    <html lang="en-GB">
      <body>{children}</body>
    </html>
  );
}
