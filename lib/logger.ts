import "server-only";
import pino from "pino";
import { logLevelSchema } from "@/lib/env-schema";
import { currentRequestId } from "@/lib/http/request-id";

// Fields that could carry secrets or PII are redacted wherever they appear, as a second line of defence behind
// the rule that such values are never passed to the logger in the first place. Each name is listed at the top
// level, one level down (`{ user: { email } }`) and two levels down (`{ req: { headers: { cookie } } }`).
// A bare `code` is deliberately not among them: error codes and SQLSTATEs are logged under that name, so
// second-factor codes are only ever named `totpCode` or `recoveryCode`.
const sensitiveFieldNames = [
  "password",
  "newPassword",
  "currentPassword",
  "passwordConfirmation",
  "passwordHash",
  "email",
  "legalName",
  "authorization",
  "cookie",
  '"set-cookie"',
  "token",
  "sessionToken",
  "accessToken",
  "refreshToken",
  "secret",
  "authSecret",
  "totpSecret",
  "totpCode",
  "recoveryCode",
  "recoveryCodes",
  "pin",
  "passphrase",
  "pepper",
];

export const redactedPaths = sensitiveFieldNames.flatMap((name) => {
  const segment = name.startsWith('"') ? `[${name}]` : `.${name}`;
  const topLevel = name.startsWith('"') ? `[${name}]` : name;
  return [topLevel, `*${segment}`, `*.*${segment}`];
});

/**
 * Makes a logger with the bank's settings: the level from LOG_LEVEL, the redaction above, and the id of the
 * request being served (lib/http/request-id.ts) on every line written on a request's behalf. Tests pass a
 * destination to read the lines; the app uses the one `logger` below, which writes to stdout.
 */
export function createLogger(destination?: pino.DestinationStream): pino.Logger {
  const options: pino.LoggerOptions = {
    // Only the log level is read here, through the same schema as the rest of the configuration: the logger is
    // created at import time (also during `next build`), when the secrets must not be required yet.
    level: logLevelSchema.parse(process.env.LOG_LEVEL === "" ? undefined : process.env.LOG_LEVEL),
    base: undefined,
    mixin: () => {
      const requestId = currentRequestId();
      return requestId === undefined ? {} : { requestId };
    },
    redact: { paths: redactedPaths, censor: "[redacted]" },
  };
  return destination ? pino(options, destination) : pino(options);
}

export const logger = createLogger();
