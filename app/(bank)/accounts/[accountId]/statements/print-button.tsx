"use client";

/** Opens the browser's print dialog; the print styles in app/globals.css hide everything but the statement. */
export function PrintButton() {
  return (
    <button type="button" className="button-quiet no-print" onClick={() => window.print()}>
      Print
    </button>
  );
}
