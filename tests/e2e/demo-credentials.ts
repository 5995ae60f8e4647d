import fs from "node:fs";
import path from "node:path";
import { e2eDataDirectory } from "../../playwright.config";

export interface DemoSignIn {
  role: string;
  legalName: string;
  email: string;
  password: string;
}

/** The sign-ins the seed generated for the e2e server's own data folder. */
export function demoSignIns(): DemoSignIn[] {
  const file = path.resolve(e2eDataDirectory, "demo-credentials.json");
  const parsed = JSON.parse(fs.readFileSync(file, "utf8")) as { signIns: DemoSignIn[] };
  return parsed.signIns;
}

export function demoSignIn(predicate: (signIn: DemoSignIn) => boolean): DemoSignIn {
  const found = demoSignIns().find(predicate);
  if (!found) throw new Error("demo sign-in not found in the credentials file");
  return found;
}
