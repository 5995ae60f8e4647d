import { z } from "zod";
import { strictObject, text } from "@/lib/validation/fields";

/**
 * The inputs of the held-transfer review, shared by the server actions (app/admin/transfers/actions.ts), the
 * data layer and the step-up operation `staff_approve_transfer`, so that what a code confirms is parsed exactly
 * as the approval itself parses it.
 */
export const heldTransferReferenceSchema = strictObject({
  transferId: z.uuid({ error: "Choose a held transfer." }),
});

const noteTooLong = "Use at most 500 characters.";

/** A staff note: plain single-line text, at most 500 characters, about the review and never customer PII. */
export const reviewNoteSchema = text({ min: 1, max: 500, tooShort: "Write a note.", tooLong: noteTooLong });

/** A reason for rejecting: required, as the customer's money is released because of it. */
export const rejectionReasonSchema = text({ min: 1, max: 500, tooShort: "Give a reason for rejecting.", tooLong: noteTooLong });

export const commentOnHeldTransferSchema = strictObject({
  transferId: z.uuid({ error: "Choose a held transfer." }),
  note: reviewNoteSchema,
});

export const approveHeldTransferSchema = strictObject({
  transferId: z.uuid({ error: "Choose a held transfer." }),
  // An approval may stand alone; an empty field means no note.
  note: z
    .string()
    .optional()
    .transform((value) => (value === undefined || value.trim() === "" ? undefined : value))
    .pipe(reviewNoteSchema.optional()),
});

export const rejectHeldTransferSchema = strictObject({
  transferId: z.uuid({ error: "Choose a held transfer." }),
  reason: rejectionReasonSchema,
});

export const heldTransferQueueSchema = strictObject({
  cursor: z.uuid().optional(),
});
