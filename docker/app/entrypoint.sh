#!/bin/sh
# The bank image's entrypoint: turns secrets mounted as files (compose `secrets:`, Kubernetes secret volumes)
# into the environment variables that lib/env-schema.ts reads, then replaces itself with the command.
#
# Why a script at all: AUTH_SECRET, SMTP_URL, REDIS_URL and the database URLs are read only from the
# environment, and a password written into compose.yaml or an image layer would be committed or baked in.
# Two conventions, both limited to the names listed below so that a typo fails instead of being ignored:
#   NAME_FILE=/run/secrets/x           NAME is set to the file's content (one line; a final newline is dropped)
#   NAME_PASSWORD_FILE=/run/secrets/y  NAME is a URL written with a user but without a password
#                                      (postgres://bank_app@postgres:5432/bank) and the file's content becomes
#                                      its password
# The *_FILE variables are removed afterwards, so that the application sees only the names it knows.
# `exec` keeps the command as PID 1's direct replacement, so that SIGTERM from `docker stop` reaches server.ts
# (which closes its connections within its own deadline) instead of this shell.
set -eu

fail() {
  printf 'entrypoint: %s\n' "$*" >&2
  exit 64
}

# Prints the file's content without its final newline; refuses an empty file or one of several lines, which
# would otherwise turn into a configuration the schema cannot see is wrong (e.g. a URL with a line break).
read_secret_file() {
  [ -r "$1" ] || fail "cannot read the secret file $1 (named by $2)"
  content=$(cat "$1")
  [ -n "$content" ] || fail "the secret file $1 (named by $2) is empty"
  case "$content" in
    *"
"*) fail "the secret file $1 (named by $2) holds more than one line" ;;
  esac
  printf '%s' "$content"
}

# PKCS11_PIN_FILE and DATABASE_{OWNER,RUNTIME}_PASSWORD_FILE are not here: the app and db:roles read those files
# themselves, so those secrets never enter the environment at all.
for name in AUTH_SECRET SMTP_URL; do
  eval "file=\${${name}_FILE:-}"
  [ -n "$file" ] || continue
  eval "current=\${${name}:-}"
  [ -z "$current" ] || fail "both $name and ${name}_FILE are set; set only one"
  value=$(read_secret_file "$file" "${name}_FILE")
  export "$name=$value"
  unset "${name}_FILE"
done

for name in DATABASE_URL MIGRATION_DATABASE_URL DATABASE_ADMIN_URL REDIS_URL; do
  eval "file=\${${name}_PASSWORD_FILE:-}"
  [ -n "$file" ] || continue
  eval "url=\${${name}:-}"
  [ -n "$url" ] || fail "${name}_PASSWORD_FILE is set but $name (the URL the password belongs to) is not"
  password=$(read_secret_file "$file" "${name}_PASSWORD_FILE")
  # Only characters that need no percent-encoding in a URL's userinfo are accepted, so that the password is
  # inserted as it is and means the same to PostgreSQL/Redis as to the URL parser. docker/secrets/generate.sh
  # makes hexadecimal passwords; db:roles itself requires 16 to 256 printable characters.
  printf '%s' "$password" | grep -Eq '^[A-Za-z0-9._~-]{16,256}$' ||
    fail "the password in ${name}_PASSWORD_FILE must be 16 to 256 characters of A-Z a-z 0-9 . _ ~ -"
  scheme=${url%%://*}
  rest=${url#*://}
  [ "$scheme" != "$url" ] || fail "$name is not a URL (scheme://user@host/...)"
  userinfo=${rest%%@*}
  [ "$userinfo" != "$rest" ] || fail "$name must name its user (scheme://user@host/...) when ${name}_PASSWORD_FILE is set"
  case "$userinfo" in
    "" | *:* | */*) fail "$name must hold a user and no password before the @ when ${name}_PASSWORD_FILE is set" ;;
  esac
  export "$name=${scheme}://${userinfo}:${password}@${rest#*@}"
  unset "${name}_PASSWORD_FILE"
done

unset file current value url password scheme rest userinfo
exec "$@"
