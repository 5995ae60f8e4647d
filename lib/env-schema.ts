/**
 * The configuration schema, validated once at start-up. This file is deliberately free of `server-only` so
 * that the custom HTTPS server (server.ts), scripts and unit tests can validate the same settings the app
 * uses; application code reads configuration through `lib/env.ts`.
 */
import os from "node:os";
import path from "node:path";
import { z } from "zod";

const booleanFlag = z
  .enum(["0", "1", "true", "false"])
  .optional()
  .transform((value) => value === "1" || value === "true");

const port = z.coerce.number().int().min(1).max(65535);

const commaSeparatedList = z
  .string()
  .optional()
  .transform((value) =>
    (value ?? "")
      .split(",")
      .map((entry) => entry.trim())
      .filter((entry) => entry.length > 0),
  );

// Database roles (db/database-roles.ts): DATABASE_URL is the app's restricted runtime role; migrations connect
// as the owner role (MIGRATION_DATABASE_URL, which outside strict production defaults to DATABASE_URL, so one
// superuser URL still works for a developer). `npm run db:roles` creates both roles over DATABASE_ADMIN_URL;
// the passwords, when given, are set on the roles and never logged. Role names are lower-case only, so that
// they never need quoting by an operator; db/database-roles.ts checks the same pattern again before use.
// Exported on its own so that the roles script can validate these without the app's whole configuration.
const databaseRoleName = z
  .string()
  .regex(/^[a-z_][a-z0-9_]{0,62}$/, "database role names may hold 1 to 63 lower-case letters, digits and underscores");
export const databaseRoleSettingsSchema = z.object({
  MIGRATION_DATABASE_URL: z.url({ protocol: /^postgres(ql)?$/ }).optional(),
  DATABASE_ADMIN_URL: z.url({ protocol: /^postgres(ql)?$/ }).optional(),
  DATABASE_OWNER_ROLE: databaseRoleName.default("bank_owner"),
  DATABASE_RUNTIME_ROLE: databaseRoleName.default("bank_app"),
  DATABASE_OWNER_PASSWORD: z.string().min(1).optional(),
  DATABASE_OWNER_PASSWORD_FILE: z.string().min(1).optional(),
  DATABASE_RUNTIME_PASSWORD: z.string().min(1).optional(),
  DATABASE_RUNTIME_PASSWORD_FILE: z.string().min(1).optional(),
});

/** The checks across the database-role settings, shared by the app's configuration and `npm run db:roles`. */
export function databaseRoleSettingsProblems(settings: z.infer<typeof databaseRoleSettingsSchema>): string[] {
  const problems: string[] = [];
  if (settings.DATABASE_OWNER_ROLE === settings.DATABASE_RUNTIME_ROLE) {
    problems.push("DATABASE_OWNER_ROLE and DATABASE_RUNTIME_ROLE must name two different roles");
  }
  if (settings.DATABASE_OWNER_PASSWORD && settings.DATABASE_OWNER_PASSWORD_FILE) {
    problems.push("set only one of DATABASE_OWNER_PASSWORD and DATABASE_OWNER_PASSWORD_FILE");
  }
  if (settings.DATABASE_RUNTIME_PASSWORD && settings.DATABASE_RUNTIME_PASSWORD_FILE) {
    problems.push("set only one of DATABASE_RUNTIME_PASSWORD and DATABASE_RUNTIME_PASSWORD_FILE");
  }
  return problems;
}

export const logLevelSchema = z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info");

const rawSchema = z.object({
  NODE_ENV: z.enum(["development", "production", "test"]).default("development"),
  ALLOW_EMBEDDED: booleanFlag,
  APP_ORIGIN: z
    .url({ protocol: /^https?$/ })
    .default("https://localhost:8000")
    .transform((value) => new URL(value).origin),
  DATA_DIR: z.string().min(1).default(".data"),
  DATABASE_URL: z.url({ protocol: /^postgres(ql)?$/ }).optional(),
  REDIS_URL: z.url({ protocol: /^rediss?$/ }).optional(),
  // The CA that a rediss:// server's certificate comes from, when it is a deployment's private CA rather than
  // one Node trusts already. (PostgreSQL's CA goes in its URL as libpq's sslrootcert: db/postgres-connection.ts.)
  REDIS_TLS_CA_FILE: z.string().min(1).optional(),
  ...databaseRoleSettingsSchema.shape,
  AUTH_SECRET: z.string().min(32, "AUTH_SECRET must be at least 32 characters").optional(),
  KEY_PROVIDER: z.enum(["local", "pkcs11"]).optional(),
  KEYRING_PATH: z.string().min(1).optional(),
  PKCS11_MODULE: z.string().min(1).optional(),
  PKCS11_TOKEN_LABEL: z.string().min(1).optional(),
  // Labels (CKA_LABEL) of the two keys the bank keeps in the token; `npm run hsm:init` creates them.
  PKCS11_KEK_LABEL: z.string().min(1).max(128).default("bank-kek"),
  PKCS11_PEPPER_LABEL: z.string().min(1).max(128).default("bank-password-pepper"),
  PKCS11_PIN: z.string().min(1).optional(),
  PKCS11_PIN_FILE: z.string().min(1).optional(),
  // How often a running instance re-reads which data-key version is current, so that a rotation made by
  // `keys:rotate` in another process reaches it; `keys:reencrypt` waits this long after a rotation. Keys are
  // read from a file or unwrapped by the HSM on each refresh, so not more than once a second; and at most an
  // hour, since an instance still writing an old version holds back finishing a rotation by that much.
  KEY_REFRESH_SECONDS: z.coerce.number().int().min(1).max(3_600).default(30),
  PORT: port.default(8000),
  HTTP_PORT: port.default(8080),
  BIND_ADDRESS: z.string().min(1).default("127.0.0.1"),
  TLS_CERT_PATH: z.string().min(1).optional(),
  TLS_KEY_PATH: z.string().min(1).optional(),
  TRUSTED_PROXIES: commaSeparatedList,
  // The Prometheus metrics listener (lib/metrics): a port of its own, never the public one, bound to loopback
  // unless told otherwise, because the counts reveal traffic and failure patterns. 0 (the default) turns it
  // off, so that two instances on one host never fight over one default port; each instance sets its own.
  METRICS_PORT: z.coerce.number().int().min(0).max(65535).default(0),
  METRICS_HOST: z.union([z.ipv4(), z.ipv6()]).default("127.0.0.1"),
  // The idle limit goes down to 10 seconds so that the browser tests can watch a session time out; a real
  // deployment keeps the default (15 minutes) or something close to it.
  SESSION_IDLE_TIMEOUT_SECONDS: z.coerce.number().int().min(10).max(3600).default(900),
  // Staff sessions reach every customer, so they end sooner when idle (10 minutes by default).
  STAFF_SESSION_IDLE_TIMEOUT_SECONDS: z.coerce.number().int().min(10).max(3600).default(600),
  SESSION_ABSOLUTE_LIFETIME_SECONDS: z.coerce.number().int().min(300).max(86_400).default(43_200),
  // How long before the idle limit the timeout dialog appears. Must be shorter than the idle limit.
  SESSION_WARNING_SECONDS: z.coerce.number().int().min(5).max(300).default(60),
  SIGN_IN_FAILURES_BEFORE_LOCK: z.coerce.number().int().min(3).max(10).default(5),
  LOCKOUT_DURATION_SECONDS: z.coerce.number().int().min(5).max(86_400).default(900),
  // How long a completed second factor counts for actions that ask for a recent one (step-up), and how long
  // a payload-bound confirmation stays usable.
  STEP_UP_WINDOW_SECONDS: z.coerce.number().int().min(30).max(3_600).default(300),
  EMAIL_VERIFICATION_TOKEN_SECONDS: z.coerce.number().int().min(300).max(604_800).default(86_400),
  PASSWORD_RESET_TOKEN_SECONDS: z.coerce.number().int().min(300).max(7_200).default(1_800),
  // How many argon2 hashes or verifications may run at once in this process; unset means one fewer than the
  // cores (at least one), so that a burst of sign-ins leaves a core for everything else.
  PASSWORD_HASH_CONCURRENCY: z.coerce.number().int().min(1).max(256).optional(),
  SMTP_URL: z.url({ protocol: /^smtps?$/ }).optional(),
  MAIL_FROM: z.string().min(3).max(200).default("Bank <no-reply@bank.localhost>"),
  // Transfer limits in minor units of the bank's currency, in the order the ledger applies them (each must be
  // reachable: confirmation < review hold < per-transfer maximum <= daily limit); checked below.
  TRANSFER_CONFIRMATION_ABOVE_MINOR: z.coerce.bigint().min(0n).default(100_000n),
  TRANSFER_REVIEW_ABOVE_MINOR: z.coerce.bigint().min(0n).default(250_000n),
  TRANSFER_MAXIMUM_MINOR: z.coerce.bigint().min(1n).default(2_500_000n),
  DAILY_OUTGOING_LIMIT_MINOR: z.coerce.bigint().min(1n).default(2_500_000n),
  // Held transfers above this need two approvals by two different staff members (four eyes, twice).
  HELD_TRANSFER_SECOND_APPROVER_ABOVE_MINOR: z.coerce.bigint().min(0n).default(1_000_000n),
  // A payee saved more recently than this needs a confirmed first transfer.
  NEW_PAYEE_CONFIRMATION_SECONDS: z.coerce.number().int().min(0).max(2_592_000).default(86_400),
  // Confirmation-of-payee lookups per customer per day: a close match reveals a name, so lookups are scarce.
  PAYEE_LOOKUPS_PER_DAY: z.coerce.number().int().min(1).max(1_000).default(20),
  RATE_LIMIT_API_PER_HOUR: z.coerce.number().int().min(1).default(50),
  RATE_LIMIT_API_PER_DAY: z.coerce.number().int().min(1).default(200),
  RATE_LIMIT_SIGN_IN_PER_15_MINUTES: z.coerce.number().int().min(1).default(10),
  RATE_LIMIT_REGISTRATION_PER_HOUR: z.coerce.number().int().min(1).default(5),
  RATE_LIMIT_USER_ACTIONS_PER_HOUR: z.coerce.number().int().min(1).default(120),
  RATE_LIMIT_PAGE_VIEWS_PER_HOUR: z.coerce.number().int().min(1).default(600),
  RATE_LIMIT_CSP_REPORTS_PER_HOUR: z.coerce.number().int().min(1).default(30),
  RATE_LIMIT_SESSION_STATUS_PER_HOUR: z.coerce.number().int().min(1).default(1_200),
  RATE_LIMIT_HISTORY_EXPORTS_PER_HOUR: z.coerce.number().int().min(1).default(30),
  RATE_LIMIT_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9:_-]{1,64}$/, "RATE_LIMIT_PREFIX may hold letters, digits, ':', '_' and '-' only")
    .default("bank:rate-limit"),
  LOG_LEVEL: logLevelSchema,
  // The audit chain (lib/audit): how often this instance's sealer links new audit events into the chain (0
  // turns the timer off, e.g. when a separate process runs `npm run audit:seal`), when it signs a checkpoint
  // of the head (after this many new links or this many seconds, whichever comes first), and the label of
  // the token's checkpoint key (created by `npm run hsm:init`).
  AUDIT_SEAL_INTERVAL_SECONDS: z.coerce.number().min(0).max(3_600).default(2),
  AUDIT_CHECKPOINT_EVERY_EVENTS: z.coerce.number().int().min(1).max(10_000_000).default(10_000),
  AUDIT_CHECKPOINT_EVERY_SECONDS: z.coerce.number().int().min(1).max(86_400).default(60),
  PKCS11_AUDIT_KEY_LABEL: z.string().min(1).max(128).default("bank-audit-checkpoint"),
});

export type Environment = ReturnType<typeof finalise>;

// The turbopackIgnore comments tell Next's bundler that these run-time paths are data locations, not files
// to trace into the build output.
function finalise(raw: z.infer<typeof rawSchema>) {
  const dataDirectory = path.resolve(/* turbopackIgnore: true */ raw.DATA_DIR);
  // Production means NODE_ENV=production without the explicit local-demo switch that run.sh sets.
  const isStrictProduction = raw.NODE_ENV === "production" && !raw.ALLOW_EMBEDDED;
  return {
    nodeEnv: raw.NODE_ENV,
    isStrictProduction,
    appOrigin: raw.APP_ORIGIN,
    dataDirectory,
    databaseUrl: raw.DATABASE_URL,
    pgliteDirectory: path.join(/* turbopackIgnore: true */ dataDirectory, "pglite"),
    databaseRoles: {
      migrationDatabaseUrl: raw.MIGRATION_DATABASE_URL ?? (isStrictProduction ? undefined : raw.DATABASE_URL),
      adminUrl: raw.DATABASE_ADMIN_URL,
      ownerRole: raw.DATABASE_OWNER_ROLE,
      runtimeRole: raw.DATABASE_RUNTIME_ROLE,
      ownerPassword: raw.DATABASE_OWNER_PASSWORD,
      ownerPasswordFile: raw.DATABASE_OWNER_PASSWORD_FILE,
      runtimePassword: raw.DATABASE_RUNTIME_PASSWORD,
      runtimePasswordFile: raw.DATABASE_RUNTIME_PASSWORD_FILE,
    },
    redisUrl: raw.REDIS_URL,
    redisTlsCertificateAuthorityFile: raw.REDIS_TLS_CA_FILE,
    authSecret: raw.AUTH_SECRET,
    keyProvider: raw.KEY_PROVIDER ?? "local",
    keyringPath: path.resolve(/* turbopackIgnore: true */ raw.KEYRING_PATH ?? path.join(/* turbopackIgnore: true */ dataDirectory, "keyring.json")),
    keyRefreshSeconds: raw.KEY_REFRESH_SECONDS,
    pkcs11: {
      modulePath: raw.PKCS11_MODULE,
      tokenLabel: raw.PKCS11_TOKEN_LABEL,
      pin: raw.PKCS11_PIN,
      pinFile: raw.PKCS11_PIN_FILE,
      keyEncryptionKeyLabel: raw.PKCS11_KEK_LABEL,
      pepperKeyLabel: raw.PKCS11_PEPPER_LABEL,
    },
    httpsPort: raw.PORT,
    httpPort: raw.HTTP_PORT,
    bindAddress: raw.BIND_ADDRESS,
    tlsCertificatePath: path.resolve(/* turbopackIgnore: true */ raw.TLS_CERT_PATH ?? path.join(/* turbopackIgnore: true */ dataDirectory, "tls", "cert.pem")),
    tlsKeyPath: path.resolve(/* turbopackIgnore: true */ raw.TLS_KEY_PATH ?? path.join(/* turbopackIgnore: true */ dataDirectory, "tls", "key.pem")),
    trustedProxies: raw.TRUSTED_PROXIES,
    metrics: { port: raw.METRICS_PORT, host: raw.METRICS_HOST },
    sessionIdleTimeoutSeconds: raw.SESSION_IDLE_TIMEOUT_SECONDS,
    staffSessionIdleTimeoutSeconds: raw.STAFF_SESSION_IDLE_TIMEOUT_SECONDS,
    sessionAbsoluteLifetimeSeconds: raw.SESSION_ABSOLUTE_LIFETIME_SECONDS,
    sessionWarningSeconds: raw.SESSION_WARNING_SECONDS,
    lockout: {
      failuresBeforeLock: raw.SIGN_IN_FAILURES_BEFORE_LOCK,
      durationSeconds: raw.LOCKOUT_DURATION_SECONDS,
    },
    stepUpWindowSeconds: raw.STEP_UP_WINDOW_SECONDS,
    emailVerificationTokenSeconds: raw.EMAIL_VERIFICATION_TOKEN_SECONDS,
    passwordResetTokenSeconds: raw.PASSWORD_RESET_TOKEN_SECONDS,
    passwordHashConcurrency: raw.PASSWORD_HASH_CONCURRENCY ?? Math.max(1, os.availableParallelism() - 1),
    mail: {
      smtpUrl: raw.SMTP_URL,
      from: raw.MAIL_FROM,
      // The development mailbox page exists only where mail cannot be delivered for real and the install is
      // not a strict production one; in production it is a 404.
      developmentMailboxEnabled: !isStrictProduction && !raw.SMTP_URL,
    },
    transferLimits: {
      confirmationAboveMinor: raw.TRANSFER_CONFIRMATION_ABOVE_MINOR,
      reviewAboveMinor: raw.TRANSFER_REVIEW_ABOVE_MINOR,
      maximumMinor: raw.TRANSFER_MAXIMUM_MINOR,
      dailyOutgoingMinor: raw.DAILY_OUTGOING_LIMIT_MINOR,
      newPayeeConfirmationSeconds: raw.NEW_PAYEE_CONFIRMATION_SECONDS,
      secondApproverAboveMinor: raw.HELD_TRANSFER_SECOND_APPROVER_ABOVE_MINOR,
    },
    payeeLookupsPerDay: raw.PAYEE_LOOKUPS_PER_DAY,
    logLevel: raw.LOG_LEVEL,
    rateLimits: {
      prefix: raw.RATE_LIMIT_PREFIX,
      apiPerHour: raw.RATE_LIMIT_API_PER_HOUR,
      apiPerDay: raw.RATE_LIMIT_API_PER_DAY,
      signInPer15Minutes: raw.RATE_LIMIT_SIGN_IN_PER_15_MINUTES,
      registrationPerHour: raw.RATE_LIMIT_REGISTRATION_PER_HOUR,
      userActionsPerHour: raw.RATE_LIMIT_USER_ACTIONS_PER_HOUR,
      pageViewsPerHour: raw.RATE_LIMIT_PAGE_VIEWS_PER_HOUR,
      cspReportsPerHour: raw.RATE_LIMIT_CSP_REPORTS_PER_HOUR,
      sessionStatusPerHour: raw.RATE_LIMIT_SESSION_STATUS_PER_HOUR,
      historyExportsPerHour: raw.RATE_LIMIT_HISTORY_EXPORTS_PER_HOUR,
    },
    demoCredentialsPath: path.join(/* turbopackIgnore: true */ dataDirectory, "demo-credentials.json"),
    audit: {
      sealIntervalSeconds: raw.AUDIT_SEAL_INTERVAL_SECONDS,
      checkpointEveryEvents: raw.AUDIT_CHECKPOINT_EVERY_EVENTS,
      checkpointEverySeconds: raw.AUDIT_CHECKPOINT_EVERY_SECONDS,
      pkcs11KeyLabel: raw.PKCS11_AUDIT_KEY_LABEL,
    },
  };
}

/**
 * Whether a URL's host is this machine's loopback interface. Traffic to it never reaches a network, so TLS
 * there would protect nothing that the machine's own root could not read anyway (a local connection pooler
 * or a sidecar on loopback is a normal production layout); every other host needs TLS in production.
 */
function isLoopbackHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, "").toLowerCase();
  return host === "localhost" || host === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

function smtpInsistsOnTls(smtpUrl: string): boolean {
  const url = new URL(smtpUrl);
  return url.protocol === "smtps:" || url.searchParams.get("requireTLS") === "true" || isLoopbackHost(url.hostname);
}

/**
 * In production every PostgreSQL URL the app is given must ask for TLS with the server's certificate and name
 * verified (sslmode=verify-full), unless the database is on the loopback interface. Weaker modes either fall
 * back to plaintext (prefer, allow) or encrypt to whoever answers (require), which protects nothing against
 * someone able to intercept the connection.
 */
function productionDatabaseTlsProblems(raw: z.infer<typeof rawSchema>): string[] {
  const problems: string[] = [];
  const urls = { DATABASE_URL: raw.DATABASE_URL, MIGRATION_DATABASE_URL: raw.MIGRATION_DATABASE_URL };
  for (const [name, value] of Object.entries(urls)) {
    if (value === undefined) continue;
    const url = new URL(value);
    if (url.searchParams.get("sslmode") !== "verify-full" && !isLoopbackHost(url.hostname)) {
      problems.push(
        `${name} must ask for verified TLS in production: add ?sslmode=verify-full (and sslrootcert=<CA file> for a private CA), unless the database is on this host's loopback`,
      );
    }
  }
  return problems;
}

export class ConfigurationError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((problem) => `  - ${problem}`).join("\n")}`);
    this.name = "ConfigurationError";
  }
}

/**
 * Parses and checks the whole configuration. Throws a ConfigurationError whose message names every missing
 * or malformed variable; it never substitutes a fallback for a secret.
 */
export function parseEnvironment(source: Record<string, string | undefined>): Environment {
  // Empty strings count as unset, so that `FOO=` in an env file does not pass for a value.
  const cleaned = Object.fromEntries(
    Object.entries(source).filter(([, value]) => value !== undefined && value !== ""),
  );
  const parsed = rawSchema.safeParse(cleaned);
  if (!parsed.success) {
    throw new ConfigurationError(
      parsed.error.issues.map((issue) => `${issue.path.join(/* turbopackIgnore: true */ ".") || "(root)"}: ${issue.message}`),
    );
  }
  const raw = parsed.data;
  const problems: string[] = [];
  if (!raw.AUTH_SECRET) {
    problems.push("AUTH_SECRET is required (run.sh generates one into .env.local for local use)");
  }
  if (raw.NODE_ENV === "production" && !raw.ALLOW_EMBEDDED) {
    if (!raw.DATABASE_URL) problems.push("DATABASE_URL is required in production (the embedded PGlite is for local use only)");
    if (!raw.REDIS_URL) problems.push("REDIS_URL is required in production");
    // Encryption in transit on every hop: the bank's data and the limiter's keys never cross a network in
    // plaintext, and the peer's certificate is checked, so that a machine on the path cannot pose as the
    // database or Redis.
    problems.push(...productionDatabaseTlsProblems(raw));
    if (raw.REDIS_URL && !raw.REDIS_URL.startsWith("rediss://") && !isLoopbackHost(new URL(raw.REDIS_URL).hostname)) {
      problems.push("REDIS_URL must be a rediss:// (TLS) URL in production (unless Redis is on this host's loopback)");
    }
    if (raw.KEY_PROVIDER !== "pkcs11") {
      problems.push("KEY_PROVIDER=pkcs11 is required in production (the local keyring is for local use only)");
    }
    if (!raw.APP_ORIGIN.startsWith("https://")) problems.push("APP_ORIGIN must be an https:// origin in production");
    if (!raw.SMTP_URL) problems.push("SMTP_URL is required in production (verification and reset links are sent by email)");
    // Verification and reset links are credentials in transit: opportunistic STARTTLS would let someone on the
    // path strip the upgrade and read them.
    if (raw.SMTP_URL && !smtpInsistsOnTls(raw.SMTP_URL)) {
      problems.push("SMTP_URL must be smtps:// or smtp:// with ?requireTLS=true in production (unless the relay is on this host's loopback)");
    }
  }
  problems.push(...databaseRoleSettingsProblems(raw));
  if (raw.REDIS_TLS_CA_FILE && !raw.REDIS_URL?.startsWith("rediss://")) {
    problems.push("REDIS_TLS_CA_FILE is set but REDIS_URL is not a rediss:// (TLS) URL");
  }
  if (raw.METRICS_PORT !== 0 && (raw.METRICS_PORT === raw.PORT || raw.METRICS_PORT === raw.HTTP_PORT)) {
    problems.push("METRICS_PORT must differ from PORT and HTTP_PORT (metrics are never served on a public port)");
  }
  if (raw.SESSION_WARNING_SECONDS >= raw.SESSION_IDLE_TIMEOUT_SECONDS) {
    problems.push(
      "SESSION_WARNING_SECONDS must be shorter than SESSION_IDLE_TIMEOUT_SECONDS (the warning appears before the idle limit)",
    );
  }
  if (raw.SESSION_WARNING_SECONDS >= raw.STAFF_SESSION_IDLE_TIMEOUT_SECONDS) {
    problems.push(
      "SESSION_WARNING_SECONDS must be shorter than STAFF_SESSION_IDLE_TIMEOUT_SECONDS (the warning appears before the idle limit)",
    );
  }
  // Each limit must be reachable before the next one refuses the transfer.
  if (raw.TRANSFER_CONFIRMATION_ABOVE_MINOR >= raw.TRANSFER_REVIEW_ABOVE_MINOR) {
    problems.push("TRANSFER_CONFIRMATION_ABOVE_MINOR must be below TRANSFER_REVIEW_ABOVE_MINOR");
  }
  if (raw.TRANSFER_REVIEW_ABOVE_MINOR >= raw.TRANSFER_MAXIMUM_MINOR) {
    problems.push("TRANSFER_REVIEW_ABOVE_MINOR must be below TRANSFER_MAXIMUM_MINOR");
  }
  if (raw.TRANSFER_MAXIMUM_MINOR > raw.DAILY_OUTGOING_LIMIT_MINOR) {
    problems.push("TRANSFER_MAXIMUM_MINOR must not be above DAILY_OUTGOING_LIMIT_MINOR");
  }
  if (raw.KEY_PROVIDER === "pkcs11") {
    if (!raw.PKCS11_MODULE) problems.push("PKCS11_MODULE is required when KEY_PROVIDER=pkcs11");
    if (!raw.PKCS11_TOKEN_LABEL) problems.push("PKCS11_TOKEN_LABEL is required when KEY_PROVIDER=pkcs11");
    if (!raw.PKCS11_PIN && !raw.PKCS11_PIN_FILE) {
      problems.push("PKCS11_PIN or PKCS11_PIN_FILE is required when KEY_PROVIDER=pkcs11");
    }
    if (raw.PKCS11_PIN && raw.PKCS11_PIN_FILE) {
      problems.push("set only one of PKCS11_PIN and PKCS11_PIN_FILE (it would be unclear which PIN is used)");
    }
    if (raw.PKCS11_KEK_LABEL === raw.PKCS11_PEPPER_LABEL) {
      problems.push("PKCS11_KEK_LABEL and PKCS11_PEPPER_LABEL must name two different keys");
    }
  }
  if (raw.KEY_PROVIDER === "pkcs11" && [raw.PKCS11_KEK_LABEL, raw.PKCS11_PEPPER_LABEL].includes(raw.PKCS11_AUDIT_KEY_LABEL)) {
    problems.push("PKCS11_AUDIT_KEY_LABEL must name a key of its own (not the KEK's or the pepper's label)");
  }
  if (problems.length > 0) throw new ConfigurationError(problems);
  return finalise(raw);
}
