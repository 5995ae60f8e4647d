import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigurationError, parseEnvironment } from "@/lib/env-schema";

const authSecret = "a".repeat(32);

const productionServices = {
  NODE_ENV: "production",
  AUTH_SECRET: authSecret,
  DATABASE_URL: "postgres://bank:secret@db.internal:5432/bank?sslmode=verify-full&sslrootcert=/run/secrets/internal_ca.pem",
  REDIS_URL: "rediss://cache.internal:6380",
  KEY_PROVIDER: "pkcs11",
  PKCS11_MODULE: "/usr/lib/softhsm/libsofthsm2.so",
  PKCS11_TOKEN_LABEL: "bank",
  PKCS11_PIN_FILE: "/run/secrets/pkcs11-pin",
  APP_ORIGIN: "https://bank.example",
  SMTP_URL: "smtps://mail.internal:465",
} satisfies Record<string, string>;

/** Returns the ConfigurationError that parsing throws, failing the test if parsing succeeds or throws otherwise. */
function configurationErrorFor(source: Record<string, string | undefined>): ConfigurationError {
  try {
    parseEnvironment(source);
  } catch (error) {
    if (error instanceof ConfigurationError) return error;
    throw error;
  }
  throw new Error("expected parseEnvironment to throw a ConfigurationError");
}

describe("parseEnvironment", () => {
  it("applies the local defaults in development when only AUTH_SECRET is set", () => {
    const environment = parseEnvironment({ AUTH_SECRET: authSecret });
    expect(environment.nodeEnv).toBe("development");
    expect(environment.isStrictProduction).toBe(false);
    expect(environment.appOrigin).toBe("https://localhost:8000");
    expect(environment.httpsPort).toBe(8000);
    expect(environment.httpPort).toBe(8080);
    expect(environment.bindAddress).toBe("127.0.0.1");
    expect(environment.keyProvider).toBe("local");
    expect(environment.databaseUrl).toBeUndefined();
    expect(environment.trustedProxies).toEqual([]);
    expect(environment.dataDirectory).toBe(path.resolve(".data"));
    expect(environment.tlsCertificatePath).toBe(path.resolve(".data", "tls", "cert.pem"));
    expect(environment.tlsKeyPath).toBe(path.resolve(".data", "tls", "key.pem"));
  });

  it("names AUTH_SECRET when it is missing", () => {
    const error = configurationErrorFor({});
    expect(error.problems).toHaveLength(1);
    expect(error.message).toContain("AUTH_SECRET");
  });

  it("rejects an AUTH_SECRET shorter than 32 characters", () => {
    expect(configurationErrorFor({ AUTH_SECRET: "a".repeat(31) }).message).toContain("AUTH_SECRET");
  });

  it("refuses production without ALLOW_EMBEDDED and names every missing service", () => {
    const error = configurationErrorFor({ NODE_ENV: "production", AUTH_SECRET: authSecret });
    expect(error.message).toContain("DATABASE_URL");
    expect(error.message).toContain("REDIS_URL");
    expect(error.message).toContain("KEY_PROVIDER");
  });

  it("refuses a production http:// origin", () => {
    const error = configurationErrorFor({ ...productionServices, APP_ORIGIN: "http://bank.example" });
    expect(error.problems).toEqual(["APP_ORIGIN must be an https:// origin in production"]);
  });

  it("accepts a complete production configuration as strict production", () => {
    const environment = parseEnvironment({ ...productionServices, TRUSTED_PROXIES: " 10.0.0.0/8 , fd00::/8 ," });
    expect(environment.isStrictProduction).toBe(true);
    expect(environment.keyProvider).toBe("pkcs11");
    expect(environment.pkcs11.pinFile).toBe("/run/secrets/pkcs11-pin");
    expect(environment.trustedProxies).toEqual(["10.0.0.0/8", "fd00::/8"]);
  });

  it("refuses production database URLs that do not ask for verified TLS", () => {
    for (const weakMode of ["", "?sslmode=disable", "?sslmode=prefer", "?sslmode=require", "?sslmode=verify-ca"]) {
      const error = configurationErrorFor({
        ...productionServices,
        DATABASE_URL: `postgres://bank_app@db.internal:5432/bank${weakMode}`,
        MIGRATION_DATABASE_URL: `postgres://bank_owner@db.internal:5432/bank${weakMode}`,
      });
      expect(error.problems).toEqual([
        expect.stringMatching(/^DATABASE_URL must ask for verified TLS in production/),
        expect.stringMatching(/^MIGRATION_DATABASE_URL must ask for verified TLS in production/),
      ]);
    }
  });

  it("accepts plaintext to the loopback interface in production, where no network is crossed", () => {
    for (const host of ["127.0.0.1", "127.0.0.53", "localhost", "[::1]"]) {
      const environment = parseEnvironment({
        ...productionServices,
        DATABASE_URL: `postgres://bank_app@${host}:6432/bank`,
        REDIS_URL: `redis://${host}:6379`,
      });
      expect(environment.isStrictProduction).toBe(true);
    }
    // A name that merely begins like a loopback address is another host.
    expect(configurationErrorFor({ ...productionServices, REDIS_URL: "redis://127.0.0.1.example:6379" }).problems).toHaveLength(1);
    expect(configurationErrorFor({ ...productionServices, DATABASE_URL: "postgres://bank_app@localhost.example/bank" }).problems).toHaveLength(1);
  });

  it("refuses a plaintext redis:// URL in production but accepts it for local use", () => {
    expect(configurationErrorFor({ ...productionServices, REDIS_URL: "redis://cache.internal:6379" }).problems).toEqual([
      "REDIS_URL must be a rediss:// (TLS) URL in production (unless Redis is on this host's loopback)",
    ]);
    expect(parseEnvironment({ AUTH_SECRET: authSecret, REDIS_URL: "redis://127.0.0.1:6379" }).redisUrl).toBe("redis://127.0.0.1:6379");
  });

  it("refuses a Redis CA file without a rediss:// URL, and keeps it with one", () => {
    expect(
      configurationErrorFor({ AUTH_SECRET: authSecret, REDIS_URL: "redis://127.0.0.1:6379", REDIS_TLS_CA_FILE: "/ca.pem" }).problems,
    ).toEqual(["REDIS_TLS_CA_FILE is set but REDIS_URL is not a rediss:// (TLS) URL"]);
    expect(parseEnvironment({ ...productionServices, REDIS_TLS_CA_FILE: "/ca.pem" }).redisTlsCertificateAuthorityFile).toBe("/ca.pem");
  });

  it("refuses opportunistic STARTTLS to a mail relay on the network in production", () => {
    expect(configurationErrorFor({ ...productionServices, SMTP_URL: "smtp://mail.internal:587" }).problems).toEqual([
      "SMTP_URL must be smtps:// or smtp:// with ?requireTLS=true in production (unless the relay is on this host's loopback)",
    ]);
    expect(parseEnvironment({ ...productionServices, SMTP_URL: "smtp://mail.internal:587?requireTLS=true" }).mail.smtpUrl).toContain("requireTLS");
    expect(parseEnvironment({ ...productionServices, SMTP_URL: "smtp://127.0.0.1:25" }).isStrictProduction).toBe(true);
  });

  it("names SMTP_URL when strict production has no mail server", () => {
    expect(configurationErrorFor({ ...productionServices, SMTP_URL: undefined }).problems).toEqual([
      "SMTP_URL is required in production (verification and reset links are sent by email)",
    ]);
  });

  it("enables the development mailbox only where no SMTP server is configured and never in strict production", () => {
    expect(parseEnvironment({ AUTH_SECRET: authSecret }).mail.developmentMailboxEnabled).toBe(true);
    expect(
      parseEnvironment({ NODE_ENV: "production", ALLOW_EMBEDDED: "1", AUTH_SECRET: authSecret }).mail.developmentMailboxEnabled,
    ).toBe(true);
    const withSmtp = parseEnvironment({ AUTH_SECRET: authSecret, SMTP_URL: "smtp://127.0.0.1:2525" });
    expect(withSmtp.mail.developmentMailboxEnabled).toBe(false);
    expect(withSmtp.mail.smtpUrl).toBe("smtp://127.0.0.1:2525");
    expect(parseEnvironment(productionServices).mail.developmentMailboxEnabled).toBe(false);
  });

  it("accepts the embedded defaults in production when ALLOW_EMBEDDED=1", () => {
    const environment = parseEnvironment({ NODE_ENV: "production", ALLOW_EMBEDDED: "1", AUTH_SECRET: authSecret });
    expect(environment.nodeEnv).toBe("production");
    expect(environment.isStrictProduction).toBe(false);
    expect(environment.databaseUrl).toBeUndefined();
    expect(environment.keyProvider).toBe("local");
  });

  it("does not treat ALLOW_EMBEDDED=0 as permission", () => {
    const error = configurationErrorFor({ NODE_ENV: "production", ALLOW_EMBEDDED: "0", AUTH_SECRET: authSecret });
    expect(error.message).toContain("DATABASE_URL");
  });

  it("requires the module, token label and PIN when KEY_PROVIDER=pkcs11", () => {
    const error = configurationErrorFor({ AUTH_SECRET: authSecret, KEY_PROVIDER: "pkcs11" });
    expect(error.message).toContain("PKCS11_MODULE");
    expect(error.message).toContain("PKCS11_TOKEN_LABEL");
    expect(error.message).toContain("PKCS11_PIN");
    expect(error.problems).toHaveLength(3);
  });

  it("names the token's two keys by label (defaults bank-kek and bank-password-pepper), never the same one", () => {
    const pkcs11 = { AUTH_SECRET: authSecret, KEY_PROVIDER: "pkcs11", PKCS11_MODULE: "/m.so", PKCS11_TOKEN_LABEL: "bank" };
    const defaults = parseEnvironment({ ...pkcs11, PKCS11_PIN: "1234" }).pkcs11;
    expect(defaults.keyEncryptionKeyLabel).toBe("bank-kek");
    expect(defaults.pepperKeyLabel).toBe("bank-password-pepper");
    const chosen = parseEnvironment({ ...pkcs11, PKCS11_PIN: "1234", PKCS11_KEK_LABEL: "kek-2", PKCS11_PEPPER_LABEL: "p" });
    expect([chosen.pkcs11.keyEncryptionKeyLabel, chosen.pkcs11.pepperKeyLabel]).toEqual(["kek-2", "p"]);
    const same = configurationErrorFor({ ...pkcs11, PKCS11_PIN: "1234", PKCS11_KEK_LABEL: "k", PKCS11_PEPPER_LABEL: "k" });
    expect(same.message).toContain("PKCS11_PEPPER_LABEL");
    const bothPins = configurationErrorFor({ ...pkcs11, PKCS11_PIN: "1234", PKCS11_PIN_FILE: "/run/secrets/pin" });
    expect(bothPins.message).toContain("only one of PKCS11_PIN and PKCS11_PIN_FILE");
    expect(bothPins.message).not.toContain("1234");
  });

  it("caps password hashing at one fewer than the cores by default, at least one", () => {
    expect(parseEnvironment({ AUTH_SECRET: authSecret }).passwordHashConcurrency).toBe(Math.max(1, os.availableParallelism() - 1));
    expect(parseEnvironment({ AUTH_SECRET: authSecret, PASSWORD_HASH_CONCURRENCY: "3" }).passwordHashConcurrency).toBe(3);
    expect(configurationErrorFor({ AUTH_SECRET: authSecret, PASSWORD_HASH_CONCURRENCY: "0" }).message).toContain(
      "PASSWORD_HASH_CONCURRENCY",
    );
    expect(configurationErrorFor({ AUTH_SECRET: authSecret, PASSWORD_HASH_CONCURRENCY: "two" }).message).toContain(
      "PASSWORD_HASH_CONCURRENCY",
    );
  });

  it("accepts PKCS11_PIN in place of PKCS11_PIN_FILE", () => {
    const environment = parseEnvironment({
      AUTH_SECRET: authSecret,
      KEY_PROVIDER: "pkcs11",
      PKCS11_MODULE: "/usr/lib/softhsm/libsofthsm2.so",
      PKCS11_TOKEN_LABEL: "bank",
      PKCS11_PIN: "1234",
    });
    expect(environment.pkcs11.pin).toBe("1234");
  });

  it.each([
    { name: "a DATABASE_URL that is not a URL", variables: { DATABASE_URL: "not a url" }, named: "DATABASE_URL" },
    { name: "a DATABASE_URL with the wrong scheme", variables: { DATABASE_URL: "mysql://db/bank" }, named: "DATABASE_URL" },
    { name: "a non-numeric PORT", variables: { PORT: "eighty" }, named: "PORT" },
    { name: "a PORT out of range", variables: { PORT: "70000" }, named: "PORT" },
    { name: "a fractional HTTP_PORT", variables: { HTTP_PORT: "80.5" }, named: "HTTP_PORT" },
    { name: "an unknown KEY_PROVIDER", variables: { KEY_PROVIDER: "file" }, named: "KEY_PROVIDER" },
  ])("rejects $name", ({ variables, named }) => {
    const error = configurationErrorFor({ AUTH_SECRET: authSecret, ...variables });
    expect(error.problems.some((problem) => problem.startsWith(`${named}:`))).toBe(true);
  });

  it("reads PORT and HTTP_PORT as numbers", () => {
    const environment = parseEnvironment({ AUTH_SECRET: authSecret, PORT: "8443", HTTP_PORT: "8081" });
    expect(environment.httpsPort).toBe(8443);
    expect(environment.httpPort).toBe(8081);
  });

  it("counts empty strings as unset", () => {
    expect(configurationErrorFor({ AUTH_SECRET: "" }).message).toContain("AUTH_SECRET");
    const environment = parseEnvironment({ AUTH_SECRET: authSecret, PORT: "", DATABASE_URL: "", APP_ORIGIN: "" });
    expect(environment.httpsPort).toBe(8000);
    expect(environment.databaseUrl).toBeUndefined();
    expect(environment.appOrigin).toBe("https://localhost:8000");
    const production = configurationErrorFor({ NODE_ENV: "production", AUTH_SECRET: authSecret, DATABASE_URL: "" });
    expect(production.message).toContain("DATABASE_URL is required");
  });

  it("normalises APP_ORIGIN to its origin, dropping path, query and trailing slash", () => {
    const environment = parseEnvironment({
      AUTH_SECRET: authSecret,
      APP_ORIGIN: "https://Bank.Example:443/online/banking?x=1",
    });
    expect(environment.appOrigin).toBe("https://bank.example");
  });

  it("rejects an APP_ORIGIN that is not http or https", () => {
    expect(configurationErrorFor({ AUTH_SECRET: authSecret, APP_ORIGIN: "ftp://bank.example" }).message).toContain(
      "APP_ORIGIN",
    );
  });
});

describe("session settings", () => {
  it("default to a 15-minute idle limit, a 12-hour lifetime and a 60-second warning", () => {
    const environment = parseEnvironment({ AUTH_SECRET: authSecret });
    expect(environment.sessionIdleTimeoutSeconds).toBe(900);
    expect(environment.sessionAbsoluteLifetimeSeconds).toBe(43_200);
    expect(environment.sessionWarningSeconds).toBe(60);
  });

  it("accept an idle limit as short as 10 seconds, for the browser tests", () => {
    const environment = parseEnvironment({ AUTH_SECRET: authSecret, SESSION_IDLE_TIMEOUT_SECONDS: "10", SESSION_WARNING_SECONDS: "5" });
    expect(environment.sessionIdleTimeoutSeconds).toBe(10);
    expect(configurationErrorFor({ AUTH_SECRET: authSecret, SESSION_IDLE_TIMEOUT_SECONDS: "9" }).message).toContain(
      "SESSION_IDLE_TIMEOUT_SECONDS",
    );
  });

  it.each([
    { idle: "20", warning: "20" },
    { idle: "20", warning: "30" },
    { idle: "120", warning: "120" },
  ])("refuse a warning of $warning seconds before an idle limit of $idle seconds", ({ idle, warning }) => {
    const error = configurationErrorFor({
      AUTH_SECRET: authSecret,
      SESSION_IDLE_TIMEOUT_SECONDS: idle,
      SESSION_WARNING_SECONDS: warning,
    });
    expect(error.problems).toEqual([
      "SESSION_WARNING_SECONDS must be shorter than SESSION_IDLE_TIMEOUT_SECONDS (the warning appears before the idle limit)",
    ]);
  });

  it("give staff sessions a 10-minute idle limit by default, with the warning shorter than it", () => {
    expect(parseEnvironment({ AUTH_SECRET: authSecret }).staffSessionIdleTimeoutSeconds).toBe(600);
    expect(parseEnvironment({ AUTH_SECRET: authSecret, STAFF_SESSION_IDLE_TIMEOUT_SECONDS: "300" }).staffSessionIdleTimeoutSeconds).toBe(300);
    expect(configurationErrorFor({ AUTH_SECRET: authSecret, STAFF_SESSION_IDLE_TIMEOUT_SECONDS: "9" }).message).toContain(
      "STAFF_SESSION_IDLE_TIMEOUT_SECONDS",
    );
    expect(
      configurationErrorFor({ AUTH_SECRET: authSecret, STAFF_SESSION_IDLE_TIMEOUT_SECONDS: "60", SESSION_WARNING_SECONDS: "60" }).problems,
    ).toEqual([
      "SESSION_WARNING_SECONDS must be shorter than STAFF_SESSION_IDLE_TIMEOUT_SECONDS (the warning appears before the idle limit)",
    ]);
  });

  it("give the session-status poll its own budget of 1,200 an hour by default", () => {
    expect(parseEnvironment({ AUTH_SECRET: authSecret }).rateLimits.sessionStatusPerHour).toBe(1_200);
  });
});

describe("database role settings", () => {
  const developmentUrl = "postgres://postgres@127.0.0.1:5432/bank";

  it("migrate over DATABASE_URL in development, so one superuser URL still works, with the default role names", () => {
    const roles = parseEnvironment({ AUTH_SECRET: authSecret, DATABASE_URL: developmentUrl }).databaseRoles;
    expect(roles.migrationDatabaseUrl).toBe(developmentUrl);
    expect(roles.ownerRole).toBe("bank_owner");
    expect(roles.runtimeRole).toBe("bank_app");
  });

  it("have no migration URL in strict production unless MIGRATION_DATABASE_URL names the owner role", () => {
    expect(parseEnvironment(productionServices).databaseRoles.migrationDatabaseUrl).toBeUndefined();
    const ownerUrl = "postgres://bank_owner@db.internal:5432/bank?sslmode=verify-full";
    expect(parseEnvironment({ ...productionServices, MIGRATION_DATABASE_URL: ownerUrl }).databaseRoles.migrationDatabaseUrl).toBe(
      ownerUrl,
    );
  });

  it("refuse role names that would need quoting, one role for both purposes, and two sources for one password", () => {
    expect(configurationErrorFor({ AUTH_SECRET: authSecret, DATABASE_RUNTIME_ROLE: 'app"; drop' }).message).toContain(
      "DATABASE_RUNTIME_ROLE",
    );
    expect(configurationErrorFor({ AUTH_SECRET: authSecret, DATABASE_OWNER_ROLE: "Bank" }).message).toContain("DATABASE_OWNER_ROLE");
    expect(configurationErrorFor({ AUTH_SECRET: authSecret, DATABASE_OWNER_ROLE: "bank", DATABASE_RUNTIME_ROLE: "bank" }).message).toContain(
      "two different roles",
    );
    expect(
      configurationErrorFor({ AUTH_SECRET: authSecret, DATABASE_RUNTIME_PASSWORD: "x".repeat(20), DATABASE_RUNTIME_PASSWORD_FILE: "/run/secrets/p" })
        .message,
    ).toContain("only one of DATABASE_RUNTIME_PASSWORD");
  });
});
