import "server-only";
import pino from "pino";

// One structured logger. Fields that could carry secrets or PII are redacted wherever they appear, as a
// second line of defence behind the rule that such values are never passed to it in the first place.
export const logger = pino({
  level: process.env.LOG_LEVEL ?? "info",
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
