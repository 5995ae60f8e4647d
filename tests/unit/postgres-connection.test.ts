import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { postgresConnectionTarget, postgresTlsMode, PostgresTlsConfigurationError } from "@/db/postgres-connection";

const directory = fs.mkdtempSync(path.join(os.tmpdir(), "postgres-connection-"));
const certificateAuthorityPath = path.join(directory, "ca.pem");
fs.writeFileSync(certificateAuthorityPath, "-----BEGIN CERTIFICATE-----\nnot checked here\n-----END CERTIFICATE-----\n");

afterAll(() => fs.rmSync(directory, { recursive: true, force: true }));

describe("postgresConnectionTarget", () => {
  it("leaves a URL without a CA file to postgres.js unchanged", () => {
    const url = "postgres://bank_app@db.internal:5432/bank?sslmode=verify-full";
    expect(postgresConnectionTarget(url)).toEqual({ url });
    expect(postgresConnectionTarget("postgres://bank_app@db.internal/bank?sslrootcert=system")).toEqual({
      url: "postgres://bank_app@db.internal/bank?sslrootcert=system",
    });
  });

  it("reads sslrootcert, removes it and sslmode from the URL, and verifies the name for verify-full", () => {
    const target = postgresConnectionTarget(
      `postgres://bank_app@db.internal:5432/bank?sslmode=verify-full&sslrootcert=${encodeURIComponent(certificateAuthorityPath)}&application_name=bank`,
    );
    expect(target.url).toBe("postgres://bank_app@db.internal:5432/bank?application_name=bank");
    expect(target.ssl?.rejectUnauthorized).toBe(true);
    expect(String(target.ssl?.ca)).toContain("BEGIN CERTIFICATE");
    // Node's own host-name check stays in place: no override.
    expect(target.ssl?.checkServerIdentity).toBeUndefined();
  });

  it("checks the chain but not the name for verify-ca and for require with a CA, as libpq does", () => {
    for (const mode of ["verify-ca", "require"]) {
      const target = postgresConnectionTarget(`postgres://db.internal/bank?sslmode=${mode}&sslrootcert=${certificateAuthorityPath}`);
      expect(target.ssl?.rejectUnauthorized).toBe(true);
      expect(target.ssl?.checkServerIdentity).toBeTypeOf("function");
    }
  });

  it("refuses a CA file with a mode that may fall back to plaintext", () => {
    for (const mode of ["disable", "allow", "prefer"]) {
      expect(() => postgresConnectionTarget(`postgres://db.internal/bank?sslmode=${mode}&sslrootcert=${certificateAuthorityPath}`)).toThrow(
        PostgresTlsConfigurationError,
      );
    }
    // No sslmode means libpq's default, prefer.
    expect(() => postgresConnectionTarget(`postgres://db.internal/bank?sslrootcert=${certificateAuthorityPath}`)).toThrow(/sslmode=prefer/);
  });

  it("names a CA file that cannot be read", () => {
    expect(() => postgresConnectionTarget("postgres://db.internal/bank?sslmode=verify-full&sslrootcert=/nonexistent/ca.pem")).toThrow(
      /\/nonexistent\/ca\.pem/,
    );
  });

  it("refuses an sslmode that PostgreSQL does not know", () => {
    expect(postgresTlsMode("postgres://db.internal/bank")).toBeUndefined();
    expect(postgresTlsMode("postgres://db.internal/bank?sslmode=verify-full")).toBe("verify-full");
    expect(() => postgresTlsMode("postgres://db.internal/bank?sslmode=verify_full")).toThrow(/not a PostgreSQL TLS mode/);
  });
});
