import { z } from "zod";
import { strictObject } from "@/lib/validation/fields";
import {
  decodeHistoryCursor,
  encodeHistoryCursor,
  parseWithFieldErrors,
  searchParamsToQueryInput,
} from "@/lib/validation/history";

/**
 * The filters of the back office's audit trail, shared by its page (a GET form) and its CSV export. No
 * `server-only`: it only parses text.
 *
 * Every value arrives as text from a query string; blank values are dropped first (a GET form sends every
 * field). An action ending in a dot (`staff.`) is a prefix and matches every action below it; any other action
 * matches exactly. Times are ISO 8601 instants; a value without an offset (what a `datetime-local` input sends,
 * `2026-12-05T10:00`) is read as UTC, which is how the page shows every time. `from` is inclusive, `to` is
 * exclusive, so consecutive ranges never count an event twice.
 */

export const auditTrailPageSize = 50;

// Flat patterns only (eslint's unsafe-regex rule refuses nested quantifiers); an empty segment is checked apart.
const actionPattern = /^[a-z0-9_][a-z0-9_.]*$/;
const targetTypePattern = /^[a-z0-9_.]+$/;
// Target ids are uuids, sequences or other identifiers the application wrote; nothing else needs matching.
const targetIdPattern = /^[A-Za-z0-9_.:@-]+$/;
const localDateTimePatterns = [
  /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}$/,
  /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$/,
  /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{1,3}$/,
];

const instantField = (message: string) =>
  z
    .string({ error: message })
    .max(40, message)
    .transform((value, context) => {
      // zod's ISO check wants seconds; a datetime-local input leaves them out when they are zero.
      const withSeconds = /T\d{2}:\d{2}$/.test(value) ? `${value}:00` : value;
      const withOffset = localDateTimePatterns.some((pattern) => pattern.test(value)) ? `${withSeconds}Z` : value;
      const parsed = z.iso.datetime({ offset: true }).safeParse(withOffset);
      const instant = parsed.success ? new Date(parsed.data) : null;
      if (instant === null || Number.isNaN(instant.getTime()) || instant.getUTCFullYear() < 2000 || instant.getUTCFullYear() > 9999) {
        context.addIssue({ code: "custom", message });
        return z.NEVER;
      }
      return instant;
    });

const cursorField = z
  .string({ error: "That page link is not valid." })
  .max(32, "That page link is not valid.")
  .transform((value, context) => {
    const sequence = decodeHistoryCursor(value);
    if (sequence === null) {
      context.addIssue({ code: "custom", message: "That page link is not valid." });
      return z.NEVER;
    }
    return sequence;
  });

export const auditTrailQueryParametersSchema = strictObject({
  actor: z.uuid({ error: "Enter the actor's user id (a UUID)." }).optional(),
  action: z
    .string({ error: "Enter an action such as staff.role.granted, or a prefix such as staff." })
    .max(100, "Enter at most 100 characters.")
    .regex(actionPattern, "Enter an action such as staff.role.granted, or a prefix such as staff.")
    .refine((value) => !value.includes(".."), "Enter an action such as staff.role.granted, or a prefix such as staff.")
    .optional(),
  targetType: z
    .string({ error: "Enter a target type such as user or account." })
    .max(50, "Enter at most 50 characters.")
    .regex(targetTypePattern, "Enter a target type such as user or account.")
    .optional(),
  targetId: z
    .string({ error: "Enter a target id." })
    .max(100, "Enter at most 100 characters.")
    .regex(targetIdPattern, "Enter a target id (letters, digits and - _ . : @ only).")
    .optional(),
  from: instantField("Enter a start time such as 2026-12-05T09:00 (UTC).").optional(),
  to: instantField("Enter an end time such as 2026-12-05T18:00 (UTC).").optional(),
  before: cursorField.optional(),
  after: cursorField.optional(),
});

/** The filters of one audit-trail query. */
export interface AuditTrailFilters {
  actorId: string | undefined;
  /** An exact action, or a prefix when `actionIsPrefix`. */
  action: string | undefined;
  actionIsPrefix: boolean;
  targetType: string | undefined;
  targetId: string | undefined;
  /** Inclusive. */
  occurredFrom: Date | undefined;
  /** Exclusive. */
  occurredBefore: Date | undefined;
}

/** Where a page starts: the newest events, older than a sequence, or newer than a sequence. */
export type AuditTrailCursor =
  | { direction: "older"; sequence: bigint }
  | { direction: "newer"; sequence: bigint };

export interface AuditTrailQuery {
  filters: AuditTrailFilters;
  cursor: AuditTrailCursor | undefined;
}

export const auditTrailQuerySchema = auditTrailQueryParametersSchema
  .superRefine((parameters, context) => {
    if (parameters.from !== undefined && parameters.to !== undefined && parameters.from >= parameters.to) {
      context.addIssue({ code: "custom", path: ["to"], message: "The end time must be after the start time." });
    }
    if (parameters.before !== undefined && parameters.after !== undefined) {
      context.addIssue({ code: "custom", path: ["before"], message: "That page link is not valid." });
    }
  })
  .transform((parameters): AuditTrailQuery => {
    const actionIsPrefix = parameters.action?.endsWith(".") ?? false;
    return {
      filters: {
        actorId: parameters.actor,
        action: parameters.action,
        actionIsPrefix,
        targetType: parameters.targetType,
        targetId: parameters.targetId,
        occurredFrom: parameters.from,
        occurredBefore: parameters.to,
      },
      cursor:
        parameters.before !== undefined
          ? { direction: "older", sequence: parameters.before }
          : parameters.after !== undefined
            ? { direction: "newer", sequence: parameters.after }
            : undefined,
    };
  });

/** A query string (the page's or the export's) into filters and a cursor, or a BankError with field messages. */
export function parseAuditTrailQuery(
  parameters: URLSearchParams | Record<string, string | string[] | undefined>,
): AuditTrailQuery {
  return parseWithFieldErrors(auditTrailQuerySchema, searchParamsToQueryInput(parameters));
}

/** The filters back in query-string form, for the page links and the export link; the cursor only if given. */
export function auditTrailFiltersToSearchParams(
  filters: AuditTrailFilters,
  cursor?: AuditTrailCursor,
): URLSearchParams {
  const parameters = new URLSearchParams();
  if (filters.actorId) parameters.set("actor", filters.actorId);
  if (filters.action) parameters.set("action", filters.action);
  if (filters.targetType) parameters.set("targetType", filters.targetType);
  if (filters.targetId) parameters.set("targetId", filters.targetId);
  if (filters.occurredFrom) parameters.set("from", filters.occurredFrom.toISOString());
  if (filters.occurredBefore) parameters.set("to", filters.occurredBefore.toISOString());
  if (cursor) parameters.set(cursor.direction === "older" ? "before" : "after", encodeHistoryCursor(cursor.sequence));
  return parameters;
}

/** No filter at all: the whole trail. */
export const noAuditTrailFilters: AuditTrailFilters = {
  actorId: undefined,
  action: undefined,
  actionIsPrefix: false,
  targetType: undefined,
  targetId: undefined,
  occurredFrom: undefined,
  occurredBefore: undefined,
};
