import "server-only";
import crypto from "node:crypto";

/**
 * Single-use tokens for emailed links. 32 random bytes (256 bits) in base64url: far beyond guessing, so a
 * plain SHA-256 is enough to store them (a slow hash protects low-entropy secrets; these are not). Only the
 * hash is ever written to the database, so a copy of the tokens table cannot be used to follow a link.
 */
export interface IssuedToken {
  token: string;
  tokenHash: string;
}

export function issueToken(): IssuedToken {
  const token = crypto.randomBytes(32).toString("base64url");
  return { token, tokenHash: hashToken(token) };
}

export function hashToken(token: string): string {
  return crypto.createHash("sha256").update(token, "utf8").digest("hex");
}

/** The shape of every token this module issues: 43 base64url characters. Anything else is refused unread. */
export const tokenPattern = /^[A-Za-z0-9_-]{43}$/;
