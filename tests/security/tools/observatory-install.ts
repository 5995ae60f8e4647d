/**
 * Installs the Mozilla HTTP Observatory scanner (npm package @mdn/mdn-http-observatory) on demand, outside the
 * project's dependencies, into `.data/tools/observatory` (gitignored through `.data/`).
 *
 * - The version is pinned exactly; it is installed only when that version is not already there.
 * - `--ignore-scripts`: the package's postinstall downloads the HSTS preload list and the TLD list from the
 *   internet, which this project's machines cannot reach (and a test tool should not need). Instead the two files
 *   are seeded empty: `conf/hsts-preload.json` with `{}` (read by src/analyzer/hsts.js for every scan; empty means
 *   "no host is preloaded", which is true of localhost) and `conf/tld-list.json` with `[]` (read only by the
 *   package's API server, seeded so that nothing else trips over its absence).
 * - Several test workers may call this at once: a lock directory serialises the install across processes, and a
 *   marker file written last says that an install finished completely.
 */
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";

const execFileAsync = promisify(execFile);

export const OBSERVATORY_PACKAGE = "@mdn/mdn-http-observatory";
export const OBSERVATORY_VERSION = "1.4.8";

const projectRoot = path.resolve(import.meta.dirname, "..", "..", "..");
export const observatoryPrefix = path.join(projectRoot, ".data", "tools", "observatory");
export const observatoryPackageDirectory = path.join(observatoryPrefix, "node_modules", ...OBSERVATORY_PACKAGE.split("/"));

const markerFile = path.join(observatoryPrefix, ".installed-version");
const lockDirectory = `${observatoryPrefix}.lock`;
const installTimeoutMilliseconds = 5 * 60_000;
const staleLockMilliseconds = installTimeoutMilliseconds + 60_000;

async function readText(filePath: string): Promise<string | null> {
  try {
    return await readFile(filePath, "utf8");
  } catch {
    return null;
  }
}

async function installedVersion(): Promise<string | null> {
  const manifest = await readText(path.join(observatoryPackageDirectory, "package.json"));
  if (manifest === null) return null;
  const { version } = JSON.parse(manifest) as { version?: unknown };
  return typeof version === "string" ? version : null;
}

async function isInstalled(): Promise<boolean> {
  return (
    (await readText(markerFile))?.trim() === OBSERVATORY_VERSION &&
    (await installedVersion()) === OBSERVATORY_VERSION &&
    existsSync(path.join(observatoryPackageDirectory, "conf", "hsts-preload.json")) &&
    existsSync(path.join(observatoryPackageDirectory, "conf", "tld-list.json"))
  );
}

/** Writes `content` to `filePath` unless the file already exists (a real list put there by hand is kept). */
async function seedFile(filePath: string, content: string): Promise<void> {
  try {
    await writeFile(filePath, content, { flag: "wx" });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
  }
}

async function install(): Promise<void> {
  await rm(markerFile, { force: true });
  await mkdir(observatoryPrefix, { recursive: true });
  try {
    await execFileAsync(
      "npm",
      [
        "install",
        "--prefix",
        observatoryPrefix,
        "--no-save",
        "--ignore-scripts",
        "--no-audit",
        "--no-fund",
        `${OBSERVATORY_PACKAGE}@${OBSERVATORY_VERSION}`,
      ],
      { cwd: projectRoot, timeout: installTimeoutMilliseconds, maxBuffer: 16 * 1024 * 1024 },
    );
  } catch (error) {
    const { stderr, message } = error as { stderr?: string; message: string };
    throw new Error(`Installing ${OBSERVATORY_PACKAGE}@${OBSERVATORY_VERSION} failed: ${stderr?.trim() || message}`);
  }
  const version = await installedVersion();
  if (version !== OBSERVATORY_VERSION) {
    throw new Error(`After npm install, ${observatoryPackageDirectory} holds version ${version ?? "none"}`);
  }
  const conf = path.join(observatoryPackageDirectory, "conf");
  await mkdir(conf, { recursive: true });
  await seedFile(path.join(conf, "hsts-preload.json"), "{}\n");
  await seedFile(path.join(conf, "tld-list.json"), "[]\n");
  await writeFile(markerFile, `${OBSERVATORY_VERSION}\n`);
}

async function withInstallLock<T>(work: () => Promise<T>): Promise<T> {
  await mkdir(path.dirname(lockDirectory), { recursive: true });
  const deadline = Date.now() + staleLockMilliseconds;
  for (;;) {
    try {
      await mkdir(lockDirectory);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      // A lock left behind by a process that died mid-install is taken over once it is older than any install.
      const age = await stat(lockDirectory).then(
        (stats) => Date.now() - stats.mtimeMs,
        () => 0,
      );
      if (age > staleLockMilliseconds) {
        await rm(lockDirectory, { recursive: true, force: true });
        continue;
      }
      if (Date.now() > deadline) throw new Error(`Timed out waiting for the install lock ${lockDirectory}`);
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
  try {
    return await work();
  } finally {
    await rm(lockDirectory, { recursive: true, force: true });
  }
}

let pendingInstall: Promise<string> | null = null;

/** Makes sure the pinned scanner is installed and seeded; returns the package's directory. */
export function ensureObservatoryInstalled(): Promise<string> {
  pendingInstall ??= (async () => {
    if (!(await isInstalled())) {
      await withInstallLock(async () => {
        if (!(await isInstalled())) await install();
      });
    }
    return observatoryPackageDirectory;
  })().catch((error: unknown) => {
    pendingInstall = null;
    throw error;
  });
  return pendingInstall;
}
