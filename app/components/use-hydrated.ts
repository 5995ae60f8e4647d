"use client";

import { useSyncExternalStore } from "react";

const subscribeToNothing = () => () => undefined;

/**
 * False in the server's HTML and during hydration, true once React runs the page in the browser. Forms whose
 * fields are React state disable their submit button until then: a click before hydration would post a form
 * whose typed values React is about to replace, and the customer would see their sign-in silently ignored.
 */
export function useHydrated(): boolean {
  return useSyncExternalStore(
    subscribeToNothing,
    () => true,
    () => false,
  );
}
