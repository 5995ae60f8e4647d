import fs from "node:fs";
import path from "node:path";
import { securityDataDirectory, securityOrigin, securityPort } from "../../../playwright.security.config";

export { securityOrigin, securityPort };

/** The certificate run.sh created for the suite's server; raw requests pin it as their only CA. */
export const certificatePath = path.resolve(securityDataDirectory, "tls", "cert.pem");

export function certificate(dataDirectory = securityDataDirectory): Buffer {
  return fs.readFileSync(path.resolve(dataDirectory, "tls", "cert.pem"));
}

export interface DemoSignIn {
  role: string;
  legalName: string;
  email: string;
  password: string;
  /** The authenticator secret (base32): sign-in asks for a code computed from it after the password. */
  totpSecret: string;
}

/** The sign-ins the seed generated into a data folder (`demo-credentials.json`, written by db/seed). */
export function demoSignIns(dataDirectory = securityDataDirectory): DemoSignIn[] {
  const file = path.resolve(dataDirectory, "demo-credentials.json");
  const parsed = JSON.parse(fs.readFileSync(file, "utf8")) as { signIns?: DemoSignIn[] };
  if (!Array.isArray(parsed.signIns) || parsed.signIns.length === 0) throw new Error(`no demo sign-ins in ${file}`);
  return parsed.signIns;
}

export function demoSignIn(email: string, dataDirectory = securityDataDirectory): DemoSignIn {
  const found = demoSignIns(dataDirectory).find((person) => person.email === email);
  if (!found) throw new Error(`${email} is not among the demo sign-ins`);
  return found;
}

export const alice = (): DemoSignIn => demoSignIn("alice@example.com");
export const bob = (): DemoSignIn => demoSignIn("bob@example.com");
