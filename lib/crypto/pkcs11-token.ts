/**
 * Low-level access to a PKCS#11 token through graphene-pk11, shared by the PKCS#11 key provider
 * (`pkcs11-provider.ts`), the SoftHSM2 initialiser (`scripts/hsm-init.ts`) and the tests.
 *
 * Like `keyring-format.ts`, this module is free of `server-only` because `npm run hsm:init` runs it under plain
 * `tsx`; it holds no key material and only relative imports.
 *
 * Facts about PKCS#11 that shape this code:
 * - A PKCS#11 library is initialised once per process (C_Initialize); a second C_Initialize answers
 *   CKR_CRYPTOKI_ALREADY_INITIALIZED and one C_Finalize ends every session of the process. So the loaded module
 *   is kept in one process-wide registry per library path, and re-initialising it bumps a generation number
 *   that tells every other user of the same library that its sessions are gone.
 * - Slot ids are not stable (SoftHSM2 renumbers a slot when its token is initialised, and a real HSM may
 *   enumerate differently after a restart), so a token is always found by its label.
 * - SoftHSM2 reads its token folder only in C_Initialize: a token created while the process runs is found
 *   only after the module is re-initialised, which is why "token not found" counts as a module-level failure.
 * - The login state belongs to the application, not the session: all sessions of one process on one token
 *   share it, and it ends when the last session closes. C_Login while logged in answers
 *   CKR_USER_ALREADY_LOGGED_IN, which is success for us.
 */
import {
  AesGcm240Params,
  KeyGenMechanism,
  KeyType,
  Module,
  ObjectClass,
  SessionFlag,
  type SecretKey,
  type Session,
  type Slot,
} from "graphene-pk11";

/** The keys the bank keeps in its token, all by label. */
export interface BankKeyLabels {
  readonly keyEncryptionKeyLabel: string;
  readonly pepperKeyLabel: string;
  /**
   * The audit checkpoint key (PKCS11_AUDIT_KEY_LABEL); optional so that callers written before the audit
   * chain keep working, in which case `defaultAuditCheckpointKeyLabel` is created.
   */
  readonly auditCheckpointKeyLabel?: string;
}

/** The label of the audit checkpoint key unless PKCS11_AUDIT_KEY_LABEL names another. */
export const defaultAuditCheckpointKeyLabel = "bank-audit-checkpoint";

export interface LoadedModule {
  readonly module: Module;
  /** Increases every time the library is re-initialised; sessions opened under an older one are dead. */
  readonly generation: number;
}

interface RegistryEntry {
  module: Module;
  generation: number;
}

// Kept on globalThis so that Next's hot reload in development, which re-evaluates this module, does not load
// and initialise the library a second time behind the first copy's back.
const globalForPkcs11 = globalThis as typeof globalThis & {
  bankPkcs11Modules?: Map<string, RegistryEntry>;
  bankPkcs11Generation?: number;
};

function registry(): Map<string, RegistryEntry> {
  globalForPkcs11.bankPkcs11Modules ??= new Map();
  return globalForPkcs11.bankPkcs11Modules;
}

/** The initialised library at `modulePath`, loading and initialising it on first use. */
export function loadedModule(modulePath: string): LoadedModule {
  const existing = registry().get(modulePath);
  if (existing) return existing;
  // Module.load throws (dlopen's message) when the file is missing or is not a PKCS#11 library.
  const library = Module.load(modulePath);
  try {
    // graphene's initialize() tolerates CKR_CRYPTOKI_ALREADY_INITIALIZED.
    library.initialize();
  } catch (error) {
    closeQuietly(library);
    throw error;
  }
  globalForPkcs11.bankPkcs11Generation = (globalForPkcs11.bankPkcs11Generation ?? 0) + 1;
  const entry: RegistryEntry = { module: library, generation: globalForPkcs11.bankPkcs11Generation };
  registry().set(modulePath, entry);
  return entry;
}

/** The generation of the library loaded from `modulePath`, or undefined when it is not loaded. */
export function loadedGeneration(modulePath: string): number | undefined {
  return registry().get(modulePath)?.generation;
}

/**
 * Finalises and unloads the library if `generation` is still the loaded one, so that the next
 * `loadedModule` starts from scratch (re-reading the token list). A newer generation means another caller has
 * already done this, and its fresh module must not be torn down again.
 */
export function resetModule(modulePath: string, generation: number): void {
  const entry = registry().get(modulePath);
  if (!entry || entry.generation !== generation) return;
  registry().delete(modulePath);
  try {
    entry.module.finalize();
  } catch {
    // The library may already be unusable (which is why it is being reset); unloading it is all that is left.
  }
  closeQuietly(entry.module);
}

function closeQuietly(library: Module): void {
  try {
    library.close();
  } catch {
    // Nothing more can be done with a library that fails to unload; a later load gets a fresh handle anyway.
  }
}

/** Thrown for conditions we detect ourselves (no such token or key), with the same shape as a PKCS#11 error. */
export class TokenProblem extends Error {
  constructor(
    message: string,
    /** True when re-initialising the library may help (the token list is read only at initialisation). */
    readonly moduleLevel: boolean,
  ) {
    super(message);
    this.name = "TokenProblem";
  }
}

/** The slot whose token carries exactly `label` (PKCS#11 pads labels with spaces; graphene trims them). */
export function findSlotByLabel(library: Module, label: string): Slot {
  const slots = library.getSlots(true);
  const matches: Slot[] = [];
  for (let index = 0; index < slots.length; index += 1) {
    const slot = slots.items(index);
    if (slot.getToken().label.trim() === label) matches.push(slot);
  }
  const [slot] = matches;
  if (slot === undefined) throw new TokenProblem(`no token labelled "${label}" is present`, true);
  // Two tokens with one label would make the choice depend on enumeration order, which may change.
  if (matches.length > 1) throw new TokenProblem(`${matches.length} tokens are labelled "${label}"`, false);
  return slot;
}

/** Opens a read-write session on the token and logs the user in with `pin`. */
export function openUserSession(slot: Slot, pin: string): Session {
  const session = slot.open(SessionFlag.SERIAL_SESSION | SessionFlag.RW_SESSION);
  try {
    session.login(pin);
  } catch (error) {
    if (pkcs11ErrorName(error) !== "CKR_USER_ALREADY_LOGGED_IN") {
      closeSessionQuietly(session);
      throw error;
    }
  }
  return session;
}

export function closeSessionQuietly(session: Session | undefined): void {
  try {
    session?.close();
  } catch {
    // A session on a removed token or a finalised library cannot be closed, and no longer exists anyway.
  }
}

/**
 * The name of a PKCS#11 return value (`CKR_PIN_INCORRECT`) carried by a graphene/pkcs11js error, or undefined
 * for any other error. pkcs11js puts the name at the start of the message.
 */
export function pkcs11ErrorName(error: unknown): string | undefined {
  if (!(error instanceof Error)) return undefined;
  return /^(CKR_[A-Z0-9_]+)/.exec(error.message)?.[1];
}

/**
 * Return values after which the library itself, not just the session, must be re-initialised before the token
 * can work again: the device or token went away, or the library lost its state.
 */
const moduleLevelErrors = new Set([
  "CKR_CRYPTOKI_NOT_INITIALIZED",
  "CKR_DEVICE_ERROR",
  "CKR_DEVICE_MEMORY",
  "CKR_DEVICE_REMOVED",
  "CKR_GENERAL_ERROR",
  "CKR_SLOT_ID_INVALID",
  "CKR_TOKEN_NOT_PRESENT",
  "CKR_TOKEN_NOT_RECOGNIZED",
]);

export function needsModuleReset(error: unknown): boolean {
  if (error instanceof TokenProblem) return error.moduleLevel;
  const name = pkcs11ErrorName(error);
  // Errors that are not PKCS#11 return values (a failed dlopen, a TypeError from the binding) also reset:
  // starting from scratch is the one recovery that always applies.
  return name === undefined || moduleLevelErrors.has(name);
}

/** The secret key labelled `label`, or undefined. Two keys with one label are refused (which one is meant?). */
export function findSecretKey(session: Session, label: string): SecretKey | undefined {
  const found = session.find({ class: ObjectClass.SECRET_KEY, label });
  if (found.length === 0) return undefined;
  if (found.length > 1) throw new TokenProblem(`${found.length} secret keys are labelled "${label}"`, false);
  return found.items(0).toType<SecretKey>();
}

/**
 * Returns the key if it is on the token, sensitive and was never extractable, and of the expected type; any
 * other key under the label is refused, because using a key whose value can be read (or once could) would
 * silently defeat the point of keeping it in the token.
 */
export function checkedSecretKey(session: Session, label: string, expectedType: "aes" | "generic-secret"): SecretKey {
  const key = findSecretKey(session, label);
  if (key === undefined) throw new TokenProblem(`the token holds no secret key labelled "${label}"`, false);
  const type = expectedType === "aes" ? KeyType.AES : KeyType.GENERIC_SECRET;
  if (key.type !== type) throw new TokenProblem(`the key labelled "${label}" is not a ${expectedType} key`, false);
  if (!key.token || !key.sensitive || key.extractable || !key.neverExtractable) {
    throw new TokenProblem(
      `the key labelled "${label}" is not a sensitive, never-extractable token key; refusing to use it`,
      false,
    );
  }
  return key;
}

/**
 * The key-encryption key: AES-256, stored on the token, sensitive (CKA_VALUE cannot be read) and not
 * extractable (it cannot be wrapped out), allowed only to encrypt and decrypt, which is how data keys are
 * wrapped (AES-GCM, see `wrapDataKey`). Sensitive and extractable are one-way in PKCS#11 anyway;
 * `modifiable: false` also freezes the usage flags, so that nobody holding the PIN can later allow, say,
 * `derive` on it. (It stays destroyable, which the end of a key-encryption key rotation needs.)
 */
function keyEncryptionKeyTemplate(label: string) {
  return {
    class: ObjectClass.SECRET_KEY,
    keyType: KeyType.AES,
    valueLen: 32,
    label,
    token: true,
    private: true,
    sensitive: true,
    extractable: false,
    modifiable: false,
    encrypt: true,
    decrypt: true,
    wrap: false,
    unwrap: false,
    sign: false,
    verify: false,
    derive: false,
  };
}

/**
 * The password pepper: a 256-bit generic secret usable only for signing (CKM_SHA256_HMAC), under the same
 * protections as the key-encryption key. Verification is done by recomputing, so `verify` is not needed.
 */
function pepperKeyTemplate(label: string) {
  return {
    class: ObjectClass.SECRET_KEY,
    keyType: KeyType.GENERIC_SECRET,
    valueLen: 32,
    label,
    token: true,
    private: true,
    sensitive: true,
    extractable: false,
    modifiable: false,
    sign: true,
    verify: false,
    encrypt: false,
    decrypt: false,
    wrap: false,
    unwrap: false,
    derive: false,
  };
}

export type KeyCreationResult = "created" | "exists";

/** Creates a key-encryption key labelled `label` unless one exists (for a key-encryption key rotation). */
export function createKeyEncryptionKeyIfMissing(session: Session, label: string): KeyCreationResult {
  if (findSecretKey(session, label) !== undefined) {
    checkedSecretKey(session, label, "aes");
    return "exists";
  }
  session.generateKey(KeyGenMechanism.AES, keyEncryptionKeyTemplate(label));
  checkedSecretKey(session, label, "aes");
  return "created";
}

/**
 * Creates the key-encryption key, the pepper key and the audit checkpoint key inside the token unless keys with
 * those labels exist.
 */
export function createBankKeysIfMissing(
  session: Session,
  labels: BankKeyLabels,
): { keyEncryptionKey: KeyCreationResult; pepperKey: KeyCreationResult; auditCheckpointKey: KeyCreationResult } {
  let keyEncryptionKey: KeyCreationResult = "exists";
  if (findSecretKey(session, labels.keyEncryptionKeyLabel) === undefined) {
    session.generateKey(KeyGenMechanism.AES, keyEncryptionKeyTemplate(labels.keyEncryptionKeyLabel));
    keyEncryptionKey = "created";
  }
  let pepperKey: KeyCreationResult = "exists";
  if (findSecretKey(session, labels.pepperKeyLabel) === undefined) {
    session.generateKey(KeyGenMechanism.GENERIC_SECRET, pepperKeyTemplate(labels.pepperKeyLabel));
    pepperKey = "created";
  }
  // Whatever existed before must also meet the requirements, or the provider would refuse it at start.
  checkedSecretKey(session, labels.keyEncryptionKeyLabel, "aes");
  checkedSecretKey(session, labels.pepperKeyLabel, "generic-secret");
  // The audit checkpoint key has exactly the pepper's attributes (an HMAC key that signs inside the token and
  // can never be read out); a token set up before the audit chain existed gains it on the next hsm:init.
  const auditLabel = labels.auditCheckpointKeyLabel ?? defaultAuditCheckpointKeyLabel;
  let auditCheckpointKey: KeyCreationResult = "exists";
  if (findSecretKey(session, auditLabel) === undefined) {
    session.generateKey(KeyGenMechanism.GENERIC_SECRET, pepperKeyTemplate(auditLabel));
    auditCheckpointKey = "created";
  }
  checkedSecretKey(session, auditLabel, "generic-secret");
  return { keyEncryptionKey, pepperKey, auditCheckpointKey };
}

/*
 * Wrapping of data keys: AES-256-GCM (CKM_AES_GCM) with the key-encryption key, performed inside the token with
 * single-part C_Encrypt / C_Decrypt. GCM rather than RFC 3394 key wrap because its additional data binds each
 * wrapped key to its purpose, version and wrapping key, so a wrapped key copied into another row of data_keys
 * fails to unwrap instead of silently serving as another purpose's key. The CK_GCM_PARAMS layout of PKCS#11
 * v2.40 (with ulIvBits) is used, which SoftHSM2 and current HSMs accept.
 */
const wrapIvLengthInBytes = 12;
const wrapTagLengthInBits = 128;
const wrappedKeyPrefix = "aes-256-gcm";
const wrapAdditionalDataLabel = "bank/data-key-wrap/v1";

export interface WrapBinding {
  readonly purpose: string;
  readonly version: number;
  readonly wrappingKeyLabel: string;
}

function wrapAdditionalData(binding: WrapBinding): Buffer {
  // A JSON array is unambiguous, unlike a joined string (see field-cipher.ts for the same reasoning).
  return Buffer.from(
    JSON.stringify([wrapAdditionalDataLabel, binding.purpose, binding.version, binding.wrappingKeyLabel]),
    "utf8",
  );
}

/** Encrypts a raw 32-byte data key under the key-encryption key inside the token; returns the stored text. */
export function wrapDataKey(session: Session, keyEncryptionKey: SecretKey, rawKey: Buffer, binding: WrapBinding): string {
  // The IV comes from the token's generator (C_GenerateRandom), like the key it protects would on a real HSM;
  // 96 random bits per wrap are far from colliding for the handful of data keys ever wrapped.
  const iv = session.generateRandom(wrapIvLengthInBytes);
  const cipher = session.createCipher(
    { name: "AES_GCM", params: new AesGcm240Params(iv, wrapAdditionalData(binding), wrapTagLengthInBits) },
    keyEncryptionKey,
  );
  // The output buffer must hold the ciphertext and the tag; graphene returns the slice actually written.
  const encrypted = Buffer.from(cipher.once(rawKey, Buffer.alloc(rawKey.length + wrapTagLengthInBits / 8)));
  return [wrappedKeyPrefix, iv.toString("base64url"), encrypted.toString("base64url")].join(":");
}

/**
 * Decrypts a stored wrapped key inside the token and returns the raw key bytes; the caller turns them into a
 * KeyObject and zeroes the buffer. A wrapped key that was altered, or moved to another purpose, version or
 * wrapping key, fails the GCM tag check in the token (SoftHSM2 reports that as CKR_GENERAL_ERROR).
 */
export function unwrapDataKey(session: Session, keyEncryptionKey: SecretKey, wrapped: string, binding: WrapBinding): Buffer {
  const parts = wrapped.split(":");
  if (parts.length !== 3 || parts[0] !== wrappedKeyPrefix) throw new Error("wrapped data key has an unknown format");
  const iv = Buffer.from(parts[1] ?? "", "base64url");
  const encrypted = Buffer.from(parts[2] ?? "", "base64url");
  if (iv.length !== wrapIvLengthInBytes || encrypted.length <= wrapTagLengthInBits / 8) {
    throw new Error("wrapped data key has the wrong length");
  }
  const decipher = session.createDecipher(
    { name: "AES_GCM", params: new AesGcm240Params(iv, wrapAdditionalData(binding), wrapTagLengthInBits) },
    keyEncryptionKey,
  );
  return Buffer.from(decipher.once(encrypted, Buffer.alloc(encrypted.length)));
}

/**
 * HMAC-SHA256 of `message` computed inside the token with a never-extractable HMAC key: the pepper key, or the
 * audit checkpoint key (same attributes, same mechanism).
 */
export function signWithPepper(session: Session, pepperKey: SecretKey, message: Buffer): Buffer {
  return Buffer.from(session.createSign("SHA256_HMAC", pepperKey).once(message));
}

/** A cheap round trip to the token (C_GetSessionInfo), for readiness checks: fails when the token is gone. */
export function checkSession(session: Session): void {
  session.lib.C_GetSessionInfo(session.handle);
}
