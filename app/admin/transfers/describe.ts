import { formatDuration } from "@/lib/format-duration";

const holdReasons: Record<string, string> = {
  amount_above_review_threshold: "Above the review threshold",
};

/** A hold reason in words; an unknown code is shown as it is stored (reasons are codes, never free text). */
export function describeHoldReason(reason: string): string {
  return holdReasons[reason] ?? reason;
}

/** Ages in the queue, to the minute: seconds would only make the page look busier. */
export function describeAge(ageSeconds: number): string {
  return ageSeconds < 60 ? "under a minute" : formatDuration(Math.floor(ageSeconds / 60) * 60);
}
