/**
 * The PKCS#11 key provider against a real SoftHSM2 token (initialised by the test in a temporary folder) and a
 * real database (PostgreSQL in the integration-postgres project, PGlite in integration-pglite).
 */
import fs from "node:fs";
import path from "node:path";
import { KeyGenMechanism, KeyType, ObjectClass, type Session } from "graphene-pk11";
import { and, eq, sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { database, databaseHandle } from "@/db/client";
import { applyMigrations } from "@/db/migrations";
import { auditEvents, dataKeys } from "@/db/schema";
import { configuredDataKeyStore, storedKeyPurposes, type DataKeyStore } from "@/lib/crypto/data-key-store";
import { createFieldCipher, type FieldContext } from "@/lib/crypto/field-cipher";
import { dataKeyPurposes } from "@/lib/crypto/key-provider";
import { keyEncryptionKeyRotatedAction, rewrapDataKeysUnderNewKey } from "@/lib/crypto/rewrap-data-keys";
import {
  createPkcs11Provider,
  sharedPkcs11Provider,
  type Pkcs11KeyProvider,
  type Pkcs11ProviderOptions,
} from "@/lib/crypto/pkcs11-provider";
import {
  closeSessionQuietly,
  createKeyEncryptionKeyIfMissing,
  findSecretKey,
  findSlotByLabel,
  loadedGeneration,
  loadedModule,
  openUserSession,
  resetModule,
} from "@/lib/crypto/pkcs11-token";
import { forgetEnvironmentForTests } from "@/lib/env";
import { backupTokenDirectory, restoreTokenDirectory } from "@/scripts/hsm-backup";
import { BankError } from "@/lib/errors";
import { useIntegrationEnvironment } from "../helpers/integration-environment";
import { testKeyLabels, useSoftHsm, type TestToken } from "../helpers/softhsm-token";

const integration = useIntegrationEnvironment();
const softHsm = useSoftHsm();
const onPostgres = process.env.INTEGRATION_DATABASE === "postgres";

const context: FieldContext = { table: "users", column: "legal_name", rowId: "7d2b3a4e-0000-4000-8000-000000000001" };

let bankToken: TestToken;
const openProviders: Pkcs11KeyProvider[] = [];

function provider(overrides: Partial<Pkcs11ProviderOptions> = {}, token: TestToken = bankToken): Pkcs11KeyProvider {
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

async function closeAllProviders(): Promise<void> {
  // Closing every session ends the token's login state, which PKCS#11 shares between all sessions of a process.
  for (const open of openProviders.splice(0)) await open.close();
}

async function storedRows() {
  return database().select().from(dataKeys).orderBy(dataKeys.purpose, dataKeys.version);
}

function withUserSession<T>(token: TestToken, use: (session: Session) => T): T {
  const { module: library } = loadedModule(softHsm().modulePath);
  const session = openUserSession(findSlotByLabel(library, token.tokenLabel), token.userPin);
  try {
    return use(session);
  } finally {
    closeSessionQuietly(session);
  }
}

async function rejection(work: Promise<unknown>): Promise<BankError> {
  const error: unknown = await work.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(BankError);
  return error as BankError;
}

beforeAll(async () => {
  await applyMigrations(databaseHandle());
  bankToken = softHsm().createToken("bank-test");
});

afterAll(async () => {
  await closeAllProviders();
});

describe("the token's own keys", () => {
  it("cannot be read: CKA_VALUE of the key-encryption key and of the pepper fails with CKR_ATTRIBUTE_SENSITIVE", () => {
    withUserSession(bankToken, (session) => {
      for (const label of [testKeyLabels.keyEncryptionKeyLabel, testKeyLabels.pepperKeyLabel]) {
        const key = findSecretKey(session, label);
        expect(key, label).toBeDefined();
        expect(key?.sensitive).toBe(true);
        expect(key?.extractable).toBe(false);
        expect(key?.neverExtractable).toBe(true);
        expect(() => key?.getAttribute("value")).toThrow(/CKR_ATTRIBUTE_SENSITIVE/);
      }
    });
  });

  it("cannot be wrapped out of the token: C_WrapKey fails with CKR_KEY_UNEXTRACTABLE", () => {
    withUserSession(bankToken, (session) => {
      // A session key that is allowed to wrap: only the wrapped key's own attributes can refuse.
      const wrappingKey = session.generateKey(KeyGenMechanism.AES, {
        class: ObjectClass.SECRET_KEY,
        keyType: KeyType.AES,
        valueLen: 32,
        token: false,
        wrap: true,
        unwrap: true,
      });
      for (const label of [testKeyLabels.keyEncryptionKeyLabel, testKeyLabels.pepperKeyLabel]) {
        const key = findSecretKey(session, label);
        if (key === undefined) throw new Error(`no key ${label}`);
        expect(() => session.wrapKey({ name: "AES_KEY_WRAP", params: null }, wrappingKey, key)).toThrow(
          /CKR_KEY_UNEXTRACTABLE/,
        );
      }
    });
  });
});

describe("data keys", () => {
  let first: Pkcs11KeyProvider;
  const plaintexts = new Map<string, string>();

  beforeAll(async () => {
    first = provider();
    await first.preload();
  });

  it("are created for every purpose on first use and stored only wrapped", async () => {
    const rows = await storedRows();
    expect(rows.map((row) => `${row.purpose}:${row.version}`).sort()).toEqual(
      storedKeyPurposes.map((purpose) => `${purpose}:1`).sort(),
    );
    expect(storedKeyPurposes).toContain("blind-index:email");
    const rowText = JSON.stringify(rows);
    for (const purpose of dataKeyPurposes) {
      const raw = (await first.currentDataKey(purpose)).key.export();
      expect(raw.length).toBe(32);
      for (const encoding of ["base64", "base64url", "hex"] as const) {
        expect(rowText).not.toContain(raw.toString(encoding));
      }
      expect(rows.every((row) => !Buffer.from(row.wrappedKey).includes(raw))).toBe(true);
    }
    const blindRaw = (await first.blindIndexKey("email")).export();
    expect(rowText).not.toContain(blindRaw.toString("base64url"));
    expect(rowText).not.toContain(blindRaw.toString("hex"));
    for (const row of rows) {
      expect(row.wrappedKey).toMatch(/^aes-256-gcm:/);
      expect(row.wrappingKeyLabel).toBe(testKeyLabels.keyEncryptionKeyLabel);
    }
  });

  it("encrypt and decrypt fields through createFieldCipher", async () => {
    const cipher = createFieldCipher(first);
    const ciphertext = await cipher.encryptField("Alice Example", context);
    expect(ciphertext.startsWith("v1:pii:1:")).toBe(true);
    expect(await cipher.decryptField(ciphertext, context)).toBe("Alice Example");
    const memo = await cipher.encryptField("rent for March", context, "memo");
    expect(await cipher.decryptField(memo, context, "memo")).toBe("rent for March");
    plaintexts.set(ciphertext, "Alice Example");
    const index = await cipher.blindIndex("email", "Alice@Example.com");
    expect(index).toMatch(/^v1:[0-9a-f]{64}$/);
    expect(await cipher.blindIndex("email", " alice@example.com ")).toBe(index);
  });

  it("survive a restart: a second provider decrypts the first one's ciphertexts and creates no new rows", async () => {
    const rowsBefore = await storedRows();
    const restarted = provider();
    const cipher = createFieldCipher(restarted);
    for (const [ciphertext, plaintext] of plaintexts) expect(await cipher.decryptField(ciphertext, context)).toBe(plaintext);
    expect(await cipher.blindIndex("email", "alice@example.com")).toBe(
      await createFieldCipher(first).blindIndex("email", "alice@example.com"),
    );
    expect(await storedRows()).toEqual(rowsBefore);
  });

  it("rotate: new writes use the new version, old ciphertexts still decrypt, other instances pick it up", async () => {
    const cipher = createFieldCipher(first);
    const before = await cipher.encryptField("Bob Before", context);
    // An instance that loaded version 1 before the rotation, re-reading the current version on every write.
    const otherInstance = provider({ refreshSeconds: 0 });
    await otherInstance.preload();

    expect(await first.rotateDataKey("pii")).toBe(2);
    const after = await cipher.encryptField("Bob After", context);
    expect(after.startsWith("v1:pii:2:")).toBe(true);
    expect(await cipher.decryptField(before, context)).toBe("Bob Before");
    expect(await cipher.decryptField(after, context)).toBe("Bob After");
    // Other purposes are untouched.
    expect((await first.currentDataKey("mfa")).version).toBe(1);
    const rows = await storedRows();
    expect(rows.filter((row) => row.purpose === "pii").map((row) => row.version)).toEqual([1, 2]);

    if (onPostgres) {
      // A version it has not seen makes another instance re-read data_keys once, then decrypt; and after its
      // refresh interval it writes with the new version too. (On PGlite only one process can use the database,
      // so there is no other instance to pick anything up, and the store shares the application's only
      // connection, possibly inside a caller's transaction: the provider does not re-read it after start-up.)
      expect(await createFieldCipher(otherInstance).decryptField(after, context)).toBe("Bob After");
      expect((await otherInstance.currentDataKey("pii")).version).toBe(2);
    } else {
      await expect(createFieldCipher(otherInstance).decryptField(after, context)).rejects.toMatchObject({
        code: "internal",
      });
    }
    expect(await first.rotateDataKey("pii")).toBe(3);
    expect((await first.currentDataKey("pii")).version).toBe(3);
  });

  it("refuse a version that does not exist, after re-reading once", async () => {
    await expect(first.dataKey("pii", 99)).rejects.toMatchObject({ code: "internal" });
  });

  it("answer the readiness check while the token is there", async () => {
    await expect(first.checkAvailable()).resolves.toBeUndefined();
  });
});

describe("the password pepper", () => {
  it("is a deterministic 32-byte HMAC computed inside the token, different for another token", async () => {
    const peppering = provider();
    const first = await peppering.pepperPassword("correct horse battery staple");
    expect(first).toBeInstanceOf(Buffer);
    expect(first.length).toBe(32);
    expect(await peppering.pepperPassword("correct horse battery staple")).toEqual(first);
    expect(await provider().pepperPassword("correct horse battery staple")).toEqual(first);
    expect(await peppering.pepperPassword("correct horse battery stapler")).not.toEqual(first);

    const otherToken = softHsm().createToken("bank-test-other");
    const elsewhere = provider({}, otherToken);
    const other = await elsewhere.pepperPassword("correct horse battery staple");
    expect(other.length).toBe(32);
    expect(other).not.toEqual(first);
  });
});

describe("when the token cannot be used", () => {
  let correctPin: string;
  let pinFile: string;

  beforeAll(async () => {
    // No other session may stay logged in: PKCS#11 shares the login state between the sessions of a process,
    // and a login with a wrong PIN would then be answered "already logged in".
    await closeAllProviders();
    correctPin = bankToken.userPin;
    pinFile = path.join(integration().temporaryRoot, "pin-under-test");
    fs.writeFileSync(pinFile, "000000000000\n", { mode: 0o600 });
  });

  function trackedOpening(): { options: Partial<Pkcs11ProviderOptions>; opened: () => boolean } {
    let opened = false;
    return {
      options: {
        pinFile,
        openStore: (): DataKeyStore => {
          opened = true;
          return configuredDataKeyStore();
        },
      },
      opened: () => opened,
    };
  }

  it("a wrong PIN gives 'unavailable', writes nothing, and the next call after fixing the PIN file succeeds", async () => {
    const rowsBefore = await storedRows();
    const tracking = trackedOpening();
    const failing = provider(tracking.options);

    const error = await rejection(failing.currentDataKey("pii"));
    expect(error.code).toBe("unavailable");
    expect(error.message).toContain("CKR_PIN_INCORRECT");
    expect(error.message).not.toContain(correctPin);
    // The same wrong PIN is not sent again (a real HSM locks the PIN after a few wrong attempts).
    const again = await rejection(failing.pepperPassword("a password"));
    expect(again.code).toBe("unavailable");
    expect(again.message).toContain("not tried again until it changes");
    expect((await rejection(createFieldCipher(failing).encryptField("x", context))).code).toBe("unavailable");
    expect(tracking.opened()).toBe(false);
    expect(await storedRows()).toEqual(rowsBefore);

    fs.writeFileSync(pinFile, `${correctPin}\n`);
    // The same provider object, no restart: the next call starts from scratch and succeeds.
    expect((await failing.currentDataKey("pii")).version).toBe(3);
    expect((await failing.pepperPassword("a password")).length).toBe(32);
    expect(await storedRows()).toEqual(rowsBefore);
  });

  it("a missing PKCS#11 library gives 'unavailable' and writes nothing", async () => {
    const rowsBefore = await storedRows();
    const tracking = trackedOpening();
    const missing = provider({ ...tracking.options, modulePath: path.join(softHsm().directory, "no-such-module.so") });
    const error = await rejection(missing.currentDataKey("pii"));
    expect(error.code).toBe("unavailable");
    expect((await rejection(missing.rotateDataKey("pii"))).code).toBe("unavailable");
    expect((await rejection(missing.checkAvailable())).code).toBe("unavailable");
    expect(tracking.opened()).toBe(false);
    expect(await storedRows()).toEqual(rowsBefore);
  });

  it("a token with no such label, or without the key-encryption key, gives 'unavailable'", async () => {
    const rowsBefore = await storedRows();
    expect((await rejection(provider({ tokenLabel: "no-such-token" }).currentDataKey("pii"))).code).toBe("unavailable");
    const noKey = await rejection(provider({ keyEncryptionKeyLabel: "no-such-key" }).currentDataKey("pii"));
    expect(noKey.code).toBe("unavailable");
    expect(noKey.message).toContain("no-such-key");
    expect(await storedRows()).toEqual(rowsBefore);
  });

  it("keeps serving already-unwrapped keys when the token goes away, and recovers when it is back", async () => {
    await closeAllProviders();
    fs.writeFileSync(pinFile, `${correctPin}\n`);
    // Refreshing on every write proves that a refresh without anything new does not need the token.
    const serving = provider({ pinFile, refreshSeconds: 0 });
    const cipher = createFieldCipher(serving);
    const ciphertext = await cipher.encryptField("Carol", context);

    // The token "goes away" for this provider: its PIN file now holds a wrong PIN and its session is closed.
    fs.writeFileSync(pinFile, "000000000000\n");
    await serving.close();
    expect(await cipher.decryptField(ciphertext, context)).toBe("Carol");
    expect(await cipher.encryptField("Dave", context)).toMatch(/^v1:pii:3:/);
    expect((await rejection(serving.pepperPassword("a password"))).code).toBe("unavailable");
    expect((await rejection(serving.rotateDataKey("memo"))).code).toBe("unavailable");
    expect((await rejection(serving.checkAvailable())).code).toBe("unavailable");

    fs.writeFileSync(pinFile, `${correctPin}\n`);
    await expect(serving.checkAvailable()).resolves.toBeUndefined();
    expect((await serving.pepperPassword("a password")).length).toBe(32);
  });
});

describe("a token removed at run time", () => {
  it("gives 'unavailable' while it is gone (cached keys still serve, nothing is written) and recovers when it is back", async () => {
    await closeAllProviders();
    const serving = provider({ refreshSeconds: 0 });
    const cipher = createFieldCipher(serving);
    const ciphertext = await cipher.encryptField("Frank", context);
    const pepper = await serving.pepperPassword("a password");
    const rowsBefore = await storedRows();

    // SoftHSM2 keeps its tokens as files in one folder: moving the folder away is the token being pulled.
    const tokens = path.join(softHsm().directory, "tokens");
    fs.renameSync(tokens, `${tokens}.away`);
    try {
      expect((await rejection(serving.pepperPassword("a password"))).code).toBe("unavailable");
      expect((await rejection(serving.rotateDataKey("memo"))).code).toBe("unavailable");
      expect((await rejection(serving.checkAvailable())).code).toBe("unavailable");
      expect(await cipher.decryptField(ciphertext, context)).toBe("Frank");
      expect(await cipher.encryptField("Grace", context)).toMatch(/^v1:pii:/);
      expect(await storedRows()).toEqual(rowsBefore);
    } finally {
      fs.renameSync(`${tokens}.away`, tokens);
    }

    // Back: the same provider object recovers on its next call, with the same pepper.
    expect(await serving.pepperPassword("a password")).toEqual(pepper);
    await expect(serving.checkAvailable()).resolves.toBeUndefined();
  });
});

describe("configuration and the stored rows", () => {
  it("KEY_PROVIDER=pkcs11 makes lib/crypto use the token and the data keys already stored", async () => {
    await closeAllProviders();
    const rowsBefore = await storedRows();
    process.env.KEY_PROVIDER = "pkcs11";
    process.env.PKCS11_MODULE = softHsm().modulePath;
    process.env.PKCS11_TOKEN_LABEL = bankToken.tokenLabel;
    process.env.PKCS11_PIN_FILE = bankToken.userPinFile;
    forgetEnvironmentForTests();
    const entryPoint = await import("@/lib/crypto");
    const ciphertext = await entryPoint.encryptField("Erin Example", context);
    expect(ciphertext.startsWith("v1:pii:3:")).toBe(true);
    expect(await createFieldCipher(provider()).decryptField(ciphertext, context)).toBe("Erin Example");
    expect(await storedRows()).toEqual(rowsBefore);
    await sharedPkcs11Provider().close();
  });

  it("two instances starting together on an empty data_keys agree on one key per purpose", async () => {
    await closeAllProviders();
    await database().delete(dataKeys).where(sql`true`);
    const [one, two] = [provider(), provider()];
    await Promise.all([one.preload(), two.preload()]);
    const rows = await storedRows();
    expect(rows.map((row) => `${row.purpose}:${row.version}`).sort()).toEqual(
      storedKeyPurposes.map((purpose) => `${purpose}:1`).sort(),
    );
    for (const purpose of dataKeyPurposes) {
      const [first, second] = [await one.currentDataKey(purpose), await two.currentDataKey(purpose)];
      expect(first.key.equals(second.key)).toBe(true);
    }
    expect((await one.blindIndexKey("email")).equals(await two.blindIndexKey("email"))).toBe(true);
  });

  it("a wrapped key copied into another purpose's row does not unwrap", async () => {
    await closeAllProviders();
    const [pii] = await database().select().from(dataKeys).where(and(eq(dataKeys.purpose, "pii"), eq(dataKeys.version, 1)));
    if (pii === undefined) throw new Error("no pii row");
    await database()
      .update(dataKeys)
      .set({ wrappedKey: pii.wrappedKey })
      .where(and(eq(dataKeys.purpose, "mfa"), eq(dataKeys.version, 1)));
    const error = await rejection(provider().currentDataKey("pii"));
    expect(error.code).toBe("unavailable");
    expect(error.message).toContain("unwrapping data keys");
  });
});

describe("key-encryption key rotation", () => {
  it("re-wraps every data key under the new key-encryption key; the old one can then be destroyed", async () => {
    await closeAllProviders();
    // The test before left a damaged row on purpose; this one starts from fresh data keys.
    await database().delete(dataKeys).where(sql`true`);
    const newLabel = "bank-kek-2";
    withUserSession(bankToken, (session) => expect(createKeyEncryptionKeyIfMissing(session, newLabel)).toBe("created"));
    const old = provider();
    const cipher = createFieldCipher(old);
    const ciphertext = await cipher.encryptField("Ivan", context);
    const rowsBefore = await storedRows();
    expect(rowsBefore.every((row) => row.wrappingKeyLabel === testKeyLabels.keyEncryptionKeyLabel)).toBe(true);

    const rotating = provider({ keyEncryptionKeyLabel: newLabel });
    expect(await rewrapDataKeysUnderNewKey(rotating, newLabel)).toBe(rowsBefore.length);
    expect(await rewrapDataKeysUnderNewKey(rotating, newLabel)).toBe(0);
    // Recorded once: the confirming run that re-wrapped nothing adds no event.
    const rotations = await database()
      .select({ targetId: auditEvents.targetId, details: auditEvents.details })
      .from(auditEvents)
      .where(eq(auditEvents.action, keyEncryptionKeyRotatedAction));
    expect(rotations).toEqual([{ targetId: newLabel, details: { rewrappedDataKeys: rowsBefore.length } }]);
    const rowsAfter = await storedRows();
    expect(rowsAfter.map((row) => [row.purpose, row.version])).toEqual(rowsBefore.map((row) => [row.purpose, row.version]));
    for (const [index, row] of rowsAfter.entries()) {
      expect(row.wrappingKeyLabel).toBe(newLabel);
      expect(row.wrappedKey).not.toBe(rowsBefore[index]?.wrappedKey);
    }
    // The instance still configured with the old label keeps working from its cache and from the row labels.
    expect(await cipher.decryptField(ciphertext, context)).toBe("Ivan");

    await closeAllProviders();
    withUserSession(bankToken, (session) => {
      const oldKey = findSecretKey(session, testKeyLabels.keyEncryptionKeyLabel);
      if (oldKey === undefined) throw new Error("the old key-encryption key is missing");
      session.destroy(oldKey);
    });
    const restarted = provider({ keyEncryptionKeyLabel: newLabel });
    expect(await createFieldCipher(restarted).decryptField(ciphertext, context)).toBe("Ivan");
    // An instance still configured with the destroyed key cannot start: it answers 'unavailable'.
    expect((await rejection(provider().currentDataKey("pii"))).code).toBe("unavailable");
  });
});

describe("a token lost and restored from its backup", () => {
  it("decrypts the data encrypted before the loss, with the same pepper; a wrong passphrase restores nothing", async () => {
    await closeAllProviders();
    // Fresh data keys under a token of this test's own, so that nothing depends on the tests before.
    await database().delete(dataKeys).where(sql`true`);
    const token = softHsm().createToken("bank-restore");
    const before = provider({}, token);
    const ciphertext = await createFieldCipher(before).encryptField("Judith", context);
    const pepper = await before.pepperPassword("a password");
    await closeAllProviders();

    const tokens = path.join(softHsm().directory, "tokens");
    const backupFile = path.join(softHsm().directory, "token-backup.bin");
    const passphrase = "a long backup passphrase";
    await backupTokenDirectory(tokens, backupFile, passphrase);
    expect(fs.statSync(backupFile).mode & 0o777).toBe(0o600);

    // The loss: the token's files are gone, and the library forgets what it had loaded.
    const generation = loadedGeneration(softHsm().modulePath);
    if (generation !== undefined) resetModule(softHsm().modulePath, generation);
    fs.renameSync(tokens, `${tokens}.lost`);
    try {
      expect((await rejection(provider({}, token).currentDataKey("pii"))).code).toBe("unavailable");
      await closeAllProviders();

      await expect(restoreTokenDirectory(backupFile, tokens, "not the passphrase at all")).rejects.toThrow(/wrong passphrase/);
      expect(fs.existsSync(tokens)).toBe(false);
      await restoreTokenDirectory(backupFile, tokens, passphrase);
      const restored = provider({}, token);
      expect(await createFieldCipher(restored).decryptField(ciphertext, context)).toBe("Judith");
      expect(await restored.pepperPassword("a password")).toEqual(pepper);
      // A restore never lands on a live token directory.
      await expect(restoreTokenDirectory(backupFile, tokens, passphrase)).rejects.toThrow(/not empty/);
    } finally {
      await closeAllProviders();
      fs.rmSync(`${tokens}.lost`, { recursive: true, force: true });
    }
  });
});
