import "server-only";
import pino from "pino";
import { logLevelSchema } from "@/lib/env-schema";

// One structured logger. Fields that could carry secrets or PII are redacted wherever they appear, as a
// second line of defence behind the rule that such values are never passed to it in the first place.
export const logger = pino({
  // Only the log level is read here, through the same schema as the rest of the configuration: the logger is
  // created at import time (also during `next build`), when the secrets must not be required yet.
  level: logLevelSchema.parse(process.env.LOG_LEVEL === "" ? undefined : process.env.LOG_LEVEL),
  base: undefined,
  redact: {
    paths: [
      "password",
      "*.password",
      "passwordHash",
      "*.passwordHash",
      "email",
      "*.email",
      "authorization",
      "*.authorization",
      "cookie",
      "*.cookie",
      "headers.cookie",
      "token",
      "*.token",
      "secret",
      "*.secret",
    ],
    censor: "[redacted]",
  },
});
