/**
 * Rotation of a blind-index key with the PKCS#11 provider, over a real SoftHSM2 token and a real database
 * (PostgreSQL in integration-postgres, PGlite in integration-pglite): the new version is stored only wrapped
 * in data_keys, new indexes use it, look-ups still match indexes computed before, and other instances pick it
 * up on the KEY_REFRESH_SECONDS rule or at once when they must re-read (the address lock's re-read).
 */
import { and, eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { database, databaseHandle } from "@/db/client";
import { applyMigrations } from "@/db/migrations";
import { dataKeys } from "@/db/schema";
import { configuredDataKeyStore } from "@/lib/crypto/data-key-store";
import { createFieldCipher } from "@/lib/crypto/field-cipher";
import { createPkcs11Provider, type Pkcs11KeyProvider, type Pkcs11ProviderOptions } from "@/lib/crypto/pkcs11-provider";
import { useIntegrationEnvironment } from "../helpers/integration-environment";
import { testKeyLabels, useSoftHsm, type TestToken } from "../helpers/softhsm-token";

useIntegrationEnvironment();
const softHsm = useSoftHsm();
const onPostgres = process.env.INTEGRATION_DATABASE === "postgres";

let token: TestToken;
const openProviders: Pkcs11KeyProvider[] = [];

function provider(overrides: Partial<Pkcs11ProviderOptions> = {}): Pkcs11KeyProvider {
  const created = createPkcs11Provider({
    modulePath: softHsm().modulePath,
    tokenLabel: token.tokenLabel,
    pinFile: token.userPinFile,
    ...testKeyLabels,
    refreshSeconds: 30,
    openStore: configuredDataKeyStore,
    ...overrides,
  });
  openProviders.push(created);
  return created;
}

async function blindIndexRows() {
  return database()
    .select()
    .from(dataKeys)
    .where(eq(dataKeys.purpose, "blind-index:email"))
    .orderBy(dataKeys.version);
}

beforeAll(async () => {
  await applyMigrations(databaseHandle());
  token = softHsm().createToken("blind-index-test");
});

afterAll(async () => {
  for (const open of openProviders.splice(0)) await open.close();
});

describe("a blind-index key in the token's data_keys", () => {
  it("rotates: a new wrapped version becomes current, indexes made before still match, the raw key is stored nowhere", async () => {
    const first = provider();
    await first.preload();
    const cipher = createFieldCipher(first);
    const before = await cipher.blindIndex("email", "Alice@Example.com");
    expect(before).toMatch(/^v1:[0-9a-f]{64}$/);
    expect((await first.blindIndexKeys("email")).map((entry) => entry.version)).toEqual([1]);

    expect(await first.rotateBlindIndexKey("email")).toBe(2);
    const after = await cipher.blindIndex("email", "alice@example.com");
    expect(after).toMatch(/^v2:[0-9a-f]{64}$/);
    expect(after.slice(3)).not.toBe(before.slice(3));
    const lookup = await cipher.blindIndexUnderEveryVersion("email", " ALICE@example.com ");
    expect(lookup).toEqual([
      { version: 2, index: after },
      { version: 1, index: before },
    ]);

    const rows = await blindIndexRows();
    expect(rows.map((row) => row.version)).toEqual([1, 2]);
    const newRaw = (await first.blindIndexKey("email")).export();
    const rowText = JSON.stringify(rows);
    for (const encoding of ["base64", "base64url", "hex"] as const) expect(rowText).not.toContain(newRaw.toString(encoding));
    // Data keys are untouched by a blind-index rotation.
    const piiRows = await database()
      .select()
      .from(dataKeys)
      .where(and(eq(dataKeys.purpose, "pii"), eq(dataKeys.version, 2)));
    expect(piiRows).toEqual([]);
  });

  it("a restarted provider unwraps both versions from data_keys and computes the same indexes", async () => {
    const restarted = provider();
    await restarted.preload();
    const versions = await restarted.blindIndexKeys("email");
    expect(versions.map((entry) => entry.version)).toEqual([2, 1]);
    const earlier = openProviders[0];
    if (earlier === undefined) throw new Error("the first provider is gone");
    expect(await createFieldCipher(restarted).blindIndexUnderEveryVersion("email", "alice@example.com")).toEqual(
      await createFieldCipher(earlier).blindIndexUnderEveryVersion("email", "alice@example.com"),
    );
  });

  it("another running instance picks the next version up after its refresh interval, or at once on a re-read", async () => {
    const running = provider({ refreshSeconds: 1 });
    await running.preload();
    const rotating = provider();
    await rotating.preload();
    expect(await rotating.rotateBlindIndexKey("email")).toBe(3);
    const rotatingIndex = await createFieldCipher(rotating).blindIndex("email", "bob@example.com");

    if (onPostgres) {
      // Within the interval the running instance still writes version 2; a re-read sees version 3 at once.
      expect(await createFieldCipher(running).blindIndex("email", "bob@example.com")).toMatch(/^v2:/);
      expect((await running.blindIndexKeys("email", { reread: true })).map((entry) => entry.version)).toEqual([3, 2, 1]);
      const second = provider({ refreshSeconds: 1 });
      await second.preload();
      await rotating.rotateBlindIndexKey("email");
      expect(await createFieldCipher(second).blindIndex("email", "bob@example.com")).toMatch(/^v3:/);
      await new Promise((resolve) => setTimeout(resolve, 1_100));
      expect(await createFieldCipher(second).blindIndex("email", "bob@example.com")).toMatch(/^v4:/);
    } else {
      // With PGlite no other process can reach the database, and the store shares the application's only
      // connection: the provider does not re-read data_keys after start-up (see data-key-store.ts).
      await new Promise((resolve) => setTimeout(resolve, 1_100));
      expect(await createFieldCipher(running).blindIndex("email", "bob@example.com")).toMatch(/^v2:/);
    }
    expect(rotatingIndex).toMatch(/^v3:/);
  });

  it("refuses to rotate an unknown blind-index purpose and writes nothing", async () => {
    const rowsBefore = await blindIndexRows();
    await expect(provider().rotateBlindIndexKey("phone" as unknown as "email")).rejects.toMatchObject({ code: "internal" });
    expect(await blindIndexRows()).toEqual(rowsBefore);
  });
});
