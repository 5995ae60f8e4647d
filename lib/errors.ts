/**
 * The one error type of the application. Every failure that crosses a layer carries a stable `code`
 * (what callers branch on), a `userMessage` (the only text a customer may ever see) and an optional internal
 * `cause` (logged, never shown). Database and crypto errors become `internal` with their cause attached.
 */
export const errorCodes = [
  "invalid_input",
  "invalid_credentials",
  "unauthenticated",
  "not_found",
  "forbidden",
  "step_up_required",
  "rate_limited",
  "cross_site_request",
  "payload_too_large",
  "unsupported_media_type",
  "conflict",
  "insufficient_funds",
  "limit_exceeded",
  "account_unavailable",
  "idempotency_conflict",
  "unavailable",
  "internal",
] as const;

export type ErrorCode = (typeof errorCodes)[number];

const defaultUserMessages: Record<ErrorCode, string> = {
  invalid_input: "Please check the highlighted fields.",
  invalid_credentials: "The email or password is incorrect.",
  unauthenticated: "Please sign in to continue.",
  not_found: "We could not find that.",
  forbidden: "We could not find that.",
  step_up_required: "Confirm with a code from your authenticator app.",
  rate_limited: "Too many attempts. Please wait a moment and try again.",
  cross_site_request: "This request was refused.",
  payload_too_large: "That request is too large.",
  unsupported_media_type: "That request is not in a format we accept.",
  conflict: "That change conflicts with another one. Please reload and try again.",
  insufficient_funds: "There is not enough money available in that account.",
  limit_exceeded: "That is more than your limit allows.",
  account_unavailable: "That account cannot send or receive money at the moment.",
  idempotency_conflict: "That request reuses a key that was already used for a different request.",
  unavailable: "The service is temporarily unavailable. Please try again shortly.",
  internal: "Something went wrong on our side. Please try again.",
};

/** HTTP status that each code maps to when it reaches a route handler. */
export const httpStatusOf: Record<ErrorCode, number> = {
  invalid_input: 422,
  invalid_credentials: 401,
  unauthenticated: 401,
  // An outsider learns nothing about existence: forbidden answers exactly like not_found.
  not_found: 404,
  forbidden: 404,
  // The caller is signed in and may do this, but must first confirm with a fresh second factor; the answer is
  // about the caller's own session, so it reveals nothing about any resource.
  step_up_required: 403,
  rate_limited: 429,
  // A refused cross-site write says so plainly: it reveals nothing about any resource.
  cross_site_request: 403,
  payload_too_large: 413,
  unsupported_media_type: 415,
  conflict: 409,
  // Refusals of a well-formed transfer: the request was understood and cannot be carried out (RFC 9110 §15.5.21).
  insufficient_funds: 422,
  limit_exceeded: 422,
  account_unavailable: 422,
  // The same idempotency key with a different request (the IETF Idempotency-Key draft answers 422).
  idempotency_conflict: 422,
  unavailable: 503,
  internal: 500,
};

export type FieldErrors = Record<string, string[]>;

export class BankError extends Error {
  readonly code: ErrorCode;
  readonly userMessage: string;
  readonly fieldErrors: FieldErrors | undefined;
  /**
   * Facts the caller needs to act on the error and may see (for example the payload hash a step-up must be
   * confirmed for). Never secrets, PII or internal causes: these reach the browser and API clients.
   */
  readonly details: Readonly<Record<string, string>> | undefined;

  constructor(
    code: ErrorCode,
    options: {
      userMessage?: string;
      cause?: unknown;
      fieldErrors?: FieldErrors;
      internalMessage?: string;
      details?: Record<string, string>;
    } = {},
  ) {
    // The Error message is internal (it reaches logs); the user only ever sees userMessage.
    super(options.internalMessage ?? code, { cause: options.cause });
    this.name = "BankError";
    this.code = code;
    this.userMessage = options.userMessage ?? defaultUserMessages[code];
    this.fieldErrors = options.fieldErrors;
    this.details = options.details;
  }
}

export function isBankError(error: unknown): error is BankError {
  return error instanceof BankError;
}

/** Throws when an invariant does not hold. Used for our own bugs, never for user input. */
export function assert(condition: unknown, internalMessage: string): asserts condition {
  if (!condition) {
    throw new BankError("internal", { internalMessage: `assertion failed: ${internalMessage}` });
  }
}
