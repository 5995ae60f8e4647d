/**
 * A length of time as people say it: "15 minutes", "1 hour", "20 seconds", "1 minute and 30 seconds". Used for
 * the configured session limits in sentences shown to customers, so the words always match the configuration.
 */
function unit(count: number, singular: string): string {
  return `${count} ${singular}${count === 1 ? "" : "s"}`;
}

export function formatDuration(totalSeconds: number): string {
  const seconds = Math.max(0, Math.round(totalSeconds));
  const hours = Math.floor(seconds / 3600);
  const minutes = Math.floor((seconds % 3600) / 60);
  const rest = seconds % 60;
  const parts = [
    hours > 0 ? unit(hours, "hour") : null,
    minutes > 0 ? unit(minutes, "minute") : null,
    rest > 0 || seconds === 0 ? unit(rest, "second") : null,
  ].filter((part): part is string => part !== null);
  return parts.length === 1 ? (parts[0] ?? "") : `${parts.slice(0, -1).join(", ")} and ${parts.at(-1) ?? ""}`;
}
