/**
 * The message of an operator command's failure, with up to five causes along its chain joined by ": ".
 * The commands that use it (keys:reencrypt, keys:reindex) raise errors whose messages name columns, row ids,
 * files and versions; values reach them only as ciphertext or HMACs, and key material never does.
 */
export function describeError(error: unknown): string {
  const parts: string[] = [];
  let current: unknown = error;
  while (current instanceof Error && parts.length < 5) {
    parts.push(current.message);
    current = current.cause;
  }
  return parts.length > 0 ? parts.join(": ") : String(error);
}
