/**
 * How every PostgreSQL connection of the bank is made secure in transit: the app's pool, migrations, the roles
 * script, the backup's emptiness check and the start-up role check all open their connections through here.
 *
 * postgres.js understands `sslmode` in the URL (`verify-full` checks the certificate against Node's trusted
 * CAs and the host name against the certificate), but not libpq's `sslrootcert=<file>`, which names the
 * private CA that a deployment's database certificate comes from. libpq's own tools (pg_dump for
 * `npm run db:backup`, psql for an operator) do understand it, so the bank's URLs use it too, and this module
 * gives postgres.js the same meaning: one URL works for the app and for the tools. Left in the URL,
 * postgres.js would instead send `sslrootcert` to the server as a run-time parameter, which the server
 * refuses.
 *
 * Not `server-only`: the custom server and the scripts import it outside Next.
 */
import { readFileSync } from "node:fs";
import type { ConnectionOptions } from "node:tls";
import postgres from "postgres";

/** The libpq TLS modes; anything else in `sslmode` is a mistake worth stopping for. */
const knownTlsModes = ["disable", "allow", "prefer", "require", "verify-ca", "verify-full"] as const;
type TlsMode = (typeof knownTlsModes)[number];

function isKnownTlsMode(value: string): value is TlsMode {
  return (knownTlsModes as readonly string[]).includes(value);
}

export interface PostgresConnectionTarget {
  /** The URL to give postgres.js, without `sslrootcert` (which postgres.js would pass on to the server). */
  url: string;
  /** postgres.js's `ssl` option, when a CA file was named; otherwise postgres.js reads `sslmode` from the URL. */
  ssl?: ConnectionOptions;
}

export class PostgresTlsConfigurationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PostgresTlsConfigurationError";
  }
}

/** The URL's `sslmode`, or undefined when it names none (postgres.js then connects without TLS). */
export function postgresTlsMode(databaseUrl: string): TlsMode | undefined {
  const mode = new URL(databaseUrl).searchParams.get("sslmode");
  if (mode === null) return undefined;
  if (!isKnownTlsMode(mode)) {
    throw new PostgresTlsConfigurationError(`sslmode=${mode} is not a PostgreSQL TLS mode (${knownTlsModes.join(", ")})`);
  }
  return mode;
}

/**
 * Turns a configured URL into what postgres.js needs. With `sslrootcert=<file>`, the CA is read now (a missing
 * file is a configuration error that names the file, not a handshake failure later) and the certificate is
 * verified against that CA alone:
 * - `verify-full` also checks that the certificate names the host in the URL;
 * - `verify-ca` and `require` check the chain only, as libpq does for `require` when a root certificate is
 *   present (a name check needs `verify-full`, which production insists on: lib/env-schema.ts).
 * A CA file with `disable`, `allow` or `prefer` is refused: those modes may end up in plaintext, so naming a
 * CA with them suggests a belief in protection that the connection would not have.
 */
export function postgresConnectionTarget(databaseUrl: string): PostgresConnectionTarget {
  const url = new URL(databaseUrl);
  const rootCertificatePath = url.searchParams.get("sslrootcert");
  // "system" is libpq's and postgres.js's word for the platform's trusted CAs; postgres.js handles it itself.
  if (rootCertificatePath === null || rootCertificatePath === "system") return { url: databaseUrl };
  const mode = postgresTlsMode(databaseUrl) ?? "prefer";
  if (mode !== "require" && mode !== "verify-ca" && mode !== "verify-full") {
    throw new PostgresTlsConfigurationError(
      `sslrootcert is set but sslmode=${mode} may connect without TLS; use sslmode=verify-full`,
    );
  }
  let certificateAuthority: Buffer;
  try {
    certificateAuthority = readFileSync(rootCertificatePath);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new PostgresTlsConfigurationError(`cannot read the database CA certificate (sslrootcert) at ${rootCertificatePath}: ${reason}`);
  }
  url.searchParams.delete("sslrootcert");
  url.searchParams.delete("sslmode");
  const ssl: ConnectionOptions = { ca: certificateAuthority, rejectUnauthorized: true };
  // Node checks the host name unless told not to; only verify-full asks for that check.
  if (mode !== "verify-full") ssl.checkServerIdentity = () => undefined;
  return { url: url.toString(), ssl };
}

/**
 * Opens a postgres.js client for a configured URL, with its TLS settings applied. Notices (such as "relation
 * already exists, skipping") are not errors and would only add noise, so they are dropped.
 */
export function connectPostgres(databaseUrl: string, options: postgres.Options<Record<string, never>> = {}): postgres.Sql {
  const target = postgresConnectionTarget(databaseUrl);
  return postgres(target.url, { onnotice: () => undefined, ...options, ...(target.ssl === undefined ? {} : { ssl: target.ssl }) });
}
