import fs from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import { databaseHandle } from "@/db/client";
import { applyMigrations } from "@/db/migrations";
import { forgetEnvironmentForTests } from "@/lib/env";
import { checkReadiness } from "@/lib/health/readiness";
import { useIntegrationEnvironment } from "../helpers/integration-environment";

/**
 * /api/ready's rule, against the real parts: the database of this test file, the real Redis on 127.0.0.1:6379
 * and one port where nothing listens, and a keyring file that is missing and then appears. (The PKCS#11
 * provider's own readiness check, with a token pulled at run time, is in pkcs11-provider.test.ts.)
 */
const integration = useIntegrationEnvironment();

beforeAll(async () => {
  await applyMigrations(databaseHandle());
});

describe("readiness", () => {
  it("is not ready while the keyring cannot be read, and ready by itself once it can", async () => {
    const { keyringPath } = integration();
    const saved = `${keyringPath}.saved`;
    fs.renameSync(keyringPath, saved);
    try {
      expect(await checkReadiness()).toEqual({ ready: false, failing: ["keys"] });
    } finally {
      fs.renameSync(saved, keyringPath);
    }
    expect(await checkReadiness()).toEqual({ ready: true, failing: [] });
  });

  it("checks Redis only when it is configured, and names it when it does not answer", async () => {
    process.env.REDIS_URL = "redis://127.0.0.1:6379";
    forgetEnvironmentForTests();
    expect(await checkReadiness()).toEqual({ ready: true, failing: [] });
    // Nothing listens on this port: the readiness check must say so, quickly, and name only the part.
    process.env.REDIS_URL = "redis://127.0.0.1:6393";
    forgetEnvironmentForTests();
    const started = Date.now();
    expect(await checkReadiness()).toEqual({ ready: false, failing: ["redis"] });
    expect(Date.now() - started).toBeLessThan(5_000);
    Reflect.deleteProperty(process.env, "REDIS_URL");
    forgetEnvironmentForTests();
    expect(await checkReadiness()).toEqual({ ready: true, failing: [] });
  });
});
