"use client";

import type { FieldError } from "react-hook-form";

/**
 * Every message for one field: those react-hook-form collected in the browser (with `criteriaMode: "all"`
 * a field breaking several password rules has one message per rule) and those the server sent back in its
 * ActionResult, each once.
 */
export function fieldMessages(clientError: FieldError | undefined, serverMessages: readonly string[] | undefined): string[] {
  const messages: string[] = [];
  if (clientError?.message) messages.push(clientError.message);
  for (const value of Object.values(clientError?.types ?? {})) {
    if (typeof value === "string") messages.push(value);
    else if (Array.isArray(value)) messages.push(...value.filter((entry): entry is string => typeof entry === "string"));
  }
  messages.push(...(serverMessages ?? []));
  return [...new Set(messages)];
}

/** The messages of one field, under an id the input names in `aria-describedby`. */
export function FieldErrorList({ id, messages }: { id: string; messages: readonly string[] }) {
  if (messages.length === 0) return null;
  return (
    <ul className="field-error" id={id}>
      {messages.map((message) => (
        <li key={message}>{message}</li>
      ))}
    </ul>
  );
}

/** The ids an input is described by: its hints always, its error list only while it has errors. */
export function describedBy(hintIds: readonly string[], errorId: string, messages: readonly string[]): string | undefined {
  const ids = messages.length > 0 ? [...hintIds, errorId] : [...hintIds];
  return ids.length > 0 ? ids.join(" ") : undefined;
}
