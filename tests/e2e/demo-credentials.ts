import fs from "node:fs";
import path from "node:path";
import { e2eDataDirectory } from "../../playwright.config";

export interface DemoSignIn {
  role: string;
  legalName: string;
  email: string;
  password: string;
  /** The user's authenticator secret (base32); sign-in does not ask for a code yet. */
  totpSecret: string;
}

/** The sign-ins the seed generated for an e2e server's own data folder (the main server's by default). */
export function demoSignIns(dataDirectory = e2eDataDirectory): DemoSignIn[] {
  const file = path.resolve(dataDirectory, "demo-credentials.json");
  const parsed = JSON.parse(fs.readFileSync(file, "utf8")) as { signIns: DemoSignIn[] };
  return parsed.signIns;
}

export function demoSignIn(predicate: (signIn: DemoSignIn) => boolean, dataDirectory = e2eDataDirectory): DemoSignIn {
  const found = demoSignIns(dataDirectory).find(predicate);
  if (!found) throw new Error("demo sign-in not found in the credentials file");
  return found;
}
