#!/usr/bin/env bash
# Creates the secrets docker/compose.yaml mounts, in this folder (or in DIRECTORY), once:
#
#   SMTP_URL='smtps://user:password@smtp.example:465' docker/secrets/generate.sh [DIRECTORY]
#
# Every file that exists already is left as it is, so running it again only fills in what is missing (and a
# secret is changed by deleting its file first; see README.md in this folder for what must change with it).
# Nothing it writes is ever committed: .gitignore keeps everything here but README.md and this script out of
# git, and .dockerignore keeps the folder out of every image.
#
# Settings (environment):
#   SMTP_URL       required the first time: the mail relay for verification and reset emails. A production
#                  configuration refuses to start without one (lib/env-schema.ts), so no placeholder is made.
#   BANK_HOSTNAME  the public name in the front certificate (default: localhost). For a real deployment,
#                  replace tls_cert.pem and tls_key.pem with a certificate from a public CA instead.
#
# Needs openssl and sha256sum.
set -euo pipefail

directory="${1:-$(cd "$(dirname "$0")" && pwd)}"
hostname="${BANK_HOSTNAME:-localhost}"
[[ "$hostname" =~ ^[A-Za-z0-9.-]+$ ]] || { echo "generate.sh: BANK_HOSTNAME is not a host name: $hostname" >&2; exit 2; }
command -v openssl >/dev/null || { echo "generate.sh: openssl is required" >&2; exit 2; }

# The folder is private to its owner on the host. The files in it are world-readable (0644) on purpose:
# Compose mounts file-based secrets into the containers as they are on the host (the uid, gid and mode of a
# service's `secrets:` entry apply to Swarm only), and the containers read them as their own unprivileged
# users (postgres and redis as 999, the app as 10001, nginx as 10101), which are not the host user who owns
# the files. The 0700 folder keeps other host users out; inside each container a secret is visible only to
# the services that list it. The CA's key is the exception: no container mounts it, so it stays 0600.
umask 022
mkdir -p "$directory"
chmod 0700 "$directory"
cd "$directory"

created=()
write_once() { # name, command that prints the content
  local name="$1"
  shift
  [ -e "$name" ] && return 0
  "$@" > "$name.tmp"
  chmod 0644 "$name.tmp"
  mv "$name.tmp" "$name"
  created+=("$name")
}

# Hexadecimal only: such passwords need no escaping in a URL (docker/app/entrypoint.sh inserts them into
# DATABASE_URL and REDIS_URL) nor in SQL, and 32 random bytes are 256 bits.
random_hex() { openssl rand -hex 32; }
random_base64() { openssl rand -base64 48 | tr -d '\n'; echo; }

write_once auth_secret random_base64
write_once postgres_password random_hex
write_once db_owner_password random_hex
write_once db_runtime_password random_hex
write_once redis_password random_hex

if [ ! -e smtp_url ]; then
  if [ -z "${SMTP_URL:-}" ]; then
    echo "generate.sh: set SMTP_URL (e.g. smtps://user:password@smtp.example:465) the first time: production mode" >&2
    echo "            sends verification and reset links by email and refuses to start without a relay." >&2
    exit 2
  fi
  [[ "$SMTP_URL" =~ ^smtps?://[^[:space:]]+$ ]] || { echo "generate.sh: SMTP_URL must be smtp:// or smtps://" >&2; exit 2; }
  write_once smtp_url printf '%s\n' "$SMTP_URL"
fi

# Redis ACL: the default user is switched off, so nothing unauthenticated gets through, and the bank's user
# may touch only its own keys (RATE_LIMIT_PREFIX defaults to bank:rate-limit) with the commands the rate
# limiter and the readiness check send. Redis stores only the SHA-256 of the password (the '#' form).
redis_acl() {
  local hash
  hash="$(tr -d '\n' < redis_password | sha256sum | cut -d' ' -f1)"
  echo "user default off"
  echo "user bank on #${hash} resetkeys ~bank:* resetchannels -@all +ping +info +evalsha +eval +get +incrby +pexpire"
}
write_once redis_acl redis_acl

# TLS: one private CA for this deployment. It signs the front certificate (so a reader can trust ca.pem in a
# browser for the local demo), the app instances' certificate, which nginx checks (NGINX_UPSTREAM_CA and
# NGINX_UPSTREAM_TLS_NAME in compose.yaml), and the certificates of PostgreSQL and Redis, which the app checks
# (sslmode=verify-full with sslrootcert, and REDIS_TLS_CA_FILE, both pointing at the internal_ca secret).
if [ ! -e ca.pem ]; then
  ( umask 077; openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ca.key 2>/dev/null )
  openssl req -x509 -new -key ca.key -sha256 -days 1825 -subj "/CN=Bank deployment CA" \
    -addext "basicConstraints=critical,CA:true,pathlen:0" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -out ca.pem 2>/dev/null
  chmod 0644 ca.pem
  created+=(ca.pem ca.key)
fi

issue_certificate() { # certificate file, key file, subject CN, subjectAltName
  local certificate="$1" key="$2" common_name="$3" names="$4"
  [ -e "$certificate" ] && [ -e "$key" ] && return 0
  # The CA's key may have been moved offline once the first certificates existed (README.md); say so instead of
  # letting openssl fail with a message about a missing file.
  if [ ! -e ca.key ]; then
    echo "generate.sh: ca.key is needed to issue $certificate; put it back here for this run" >&2
    exit 2
  fi
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$key" 2>/dev/null
  chmod 0644 "$key"
  openssl req -new -key "$key" -subj "/CN=${common_name}" -out "$certificate.csr" 2>/dev/null
  printf 'basicConstraints=critical,CA:false\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=%s\n' \
    "$names" > "$certificate.ext"
  # 397 days: the longest validity browsers accept for a server certificate.
  openssl x509 -req -in "$certificate.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -days 397 -sha256 \
    -extfile "$certificate.ext" -out "$certificate.leaf" 2>/dev/null
  # The chain (server certificate, then the CA) in one file: nginx serves it, and the app's health check
  # verifies the server against it (docker/app/healthcheck.mjs).
  cat "$certificate.leaf" ca.pem > "$certificate"
  chmod 0644 "$certificate"
  rm -f "$certificate.csr" "$certificate.ext" "$certificate.leaf" ca.srl
  created+=("$certificate" "$key")
}
issue_certificate tls_cert.pem tls_key.pem "$hostname" "DNS:${hostname}"
issue_certificate app_tls_cert.pem app_tls_key.pem app.bank.internal \
  "DNS:app.bank.internal,DNS:app-1,DNS:app-2,DNS:localhost,IP:127.0.0.1"
# The database and Redis, each under its compose service name, which is the host name in the app's URLs and so
# the name the app checks against the certificate (sslmode=verify-full for PostgreSQL; ioredis checks the name
# by default). Their keys are 0644 like every other file here, for the reason at the top. Redis reads its key
# as it is. PostgreSQL refuses a key file that group or others may read (unless root owns it with mode 0640 or
# less), so the postgres service copies it to a private 0600 file before the server starts (compose.yaml).
issue_certificate postgres_tls_cert.pem postgres_tls_key.pem postgres "DNS:postgres"
issue_certificate redis_tls_cert.pem redis_tls_key.pem redis "DNS:redis"

if [ ${#created[@]} -eq 0 ]; then
  echo "generate.sh: every secret exists already in $directory; nothing changed"
else
  echo "generate.sh: created in $directory: ${created[*]}"
fi
