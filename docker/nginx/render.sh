#!/usr/bin/env sh
# Renders the nginx and ModSecurity configuration of the bank's front into OUTPUT_DIR:
#
#   docker/nginx/render.sh OUTPUT_DIR
#
# The same files serve `./run.sh stack` on a developer's machine and the nginx container of docker/compose.yaml.
# Settings come from environment variables (required unless a default is shown):
#   NGINX_HTTPS_PORT       port of the TLS listener
#   NGINX_HTTP_PORT        port of the plain-HTTP listener, which only redirects to NGINX_PUBLIC_ORIGIN
#   NGINX_PUBLIC_ORIGIN    the origin customers use, e.g. https://bank.example (redirect target; never the Host header)
#   APP_UPSTREAMS          comma-separated host:port list of the app instances (they speak HTTPS)
#   ADMIN_ALLOWED_CIDRS    comma-separated addresses or CIDR ranges allowed to reach /admin (everyone else: 403)
#   NGINX_TLS_CERT         certificate chain (PEM) served to clients
#   NGINX_TLS_KEY          its private key
#   NGINX_RUNTIME_DIR      a folder nginx may write: pid, temporary files, logs (so it needs no /etc or /var)
#   NGINX_PROXY_BIND       local address nginx connects to the apps from (the apps' TRUSTED_PROXIES); empty: any
#   NGINX_UPSTREAM_CA      CA (PEM) that signed the apps' certificates          default: NGINX_TLS_CERT
#   NGINX_UPSTREAM_TLS_NAME name the apps' certificates are checked against      default: localhost
#   NGINX_LIMIT_REQ_RATE   outer flood limit per client address, requests/second default: 50
#   NGINX_LIMIT_REQ_BURST  requests above the rate allowed in a burst            default: 200
#   NGINX_MODULES_DIR      where libnginx-mod-http-modsecurity put its module   default: /usr/lib/nginx/modules
#   MODSECURITY_CRS_DIR    the OWASP Core Rule Set (Debian modsecurity-crs)     default: /usr/share/modsecurity-crs
#   NGINX_LISTEN_ADDRESSES comma-separated addresses nginx listens on           default: 0.0.0.0,[::] (all)
#   NGINX_USER             user of the worker processes, only when started as root (e.g. "root" by run.sh
#                          on a machine where everything runs as root); unset: the user who starts nginx
#
# envsubst is given an explicit list of these variables, so that nginx's own `$variables` in the templates stay.
set -eu

output_directory="${1:?usage: render.sh OUTPUT_DIR}"
source_directory="$(cd "$(dirname "$0")" && pwd)"

fail() {
  printf 'render.sh: %s\n' "$*" >&2
  exit 1
}

for name in NGINX_HTTPS_PORT NGINX_HTTP_PORT NGINX_PUBLIC_ORIGIN APP_UPSTREAMS ADMIN_ALLOWED_CIDRS NGINX_TLS_CERT \
  NGINX_TLS_KEY NGINX_RUNTIME_DIR; do
  eval "value=\${$name:-}"
  [ -n "$value" ] || fail "$name is not set"
done
: "${NGINX_PROXY_BIND:=}"
: "${NGINX_UPSTREAM_CA:=$NGINX_TLS_CERT}"
: "${NGINX_UPSTREAM_TLS_NAME:=localhost}"
: "${NGINX_LIMIT_REQ_RATE:=50}"
: "${NGINX_LIMIT_REQ_BURST:=200}"
: "${NGINX_MODULES_DIR:=/usr/lib/nginx/modules}"
: "${MODSECURITY_CRS_DIR:=/usr/share/modsecurity-crs}"
: "${NGINX_USER:=}"
: "${NGINX_LISTEN_ADDRESSES:=0.0.0.0,[::]}"

# Values that end up inside nginx directives are checked, so that a stray character cannot add a directive.
is_port() { case "$1" in '' | *[!0-9]*) return 1 ;; *) [ "$1" -ge 1 ] && [ "$1" -le 65535 ] ;; esac; }
is_port "$NGINX_HTTPS_PORT" || fail "NGINX_HTTPS_PORT is not a port: $NGINX_HTTPS_PORT"
is_port "$NGINX_HTTP_PORT" || fail "NGINX_HTTP_PORT is not a port: $NGINX_HTTP_PORT"
printf '%s' "$NGINX_PUBLIC_ORIGIN" | grep -Eq '^https://[A-Za-z0-9.-]+(:[0-9]{1,5})?$' ||
  fail "NGINX_PUBLIC_ORIGIN must be https://host[:port] without a path: $NGINX_PUBLIC_ORIGIN"
printf '%s' "$NGINX_LIMIT_REQ_RATE" | grep -Eq '^[0-9]+$' || fail "NGINX_LIMIT_REQ_RATE must be a number"
printf '%s' "$NGINX_LIMIT_REQ_BURST" | grep -Eq '^[0-9]+$' || fail "NGINX_LIMIT_REQ_BURST must be a number"
printf '%s' "$NGINX_UPSTREAM_TLS_NAME" | grep -Eq '^[A-Za-z0-9.-]+$' || fail "NGINX_UPSTREAM_TLS_NAME is not a host name"
for file_setting in NGINX_TLS_CERT NGINX_TLS_KEY NGINX_UPSTREAM_CA NGINX_RUNTIME_DIR NGINX_MODULES_DIR MODSECURITY_CRS_DIR; do
  eval "value=\${$file_setting}"
  case "$value" in /*) ;; *) fail "$file_setting must be an absolute path: $value" ;; esac
  case "$value" in *[!A-Za-z0-9/._-]*) fail "$file_setting may hold only letters, digits and / . _ -: $value" ;; esac
done
[ -f "$NGINX_UPSTREAM_CA" ] || fail "NGINX_UPSTREAM_CA is not a file: $NGINX_UPSTREAM_CA"
[ -f "$MODSECURITY_CRS_DIR/rules/REQUEST-949-BLOCKING-EVALUATION.conf" ] ||
  fail "no OWASP Core Rule Set in $MODSECURITY_CRS_DIR (Debian: apt-get install modsecurity-crs)"
[ -f "$NGINX_MODULES_DIR/ngx_http_modsecurity_module.so" ] ||
  fail "no ModSecurity module in $NGINX_MODULES_DIR (Debian: apt-get install libnginx-mod-http-modsecurity)"

# One `server` line per app instance. Passive health checks: after 3 failed attempts within 10 seconds an
# instance is left out for 10 seconds, then tried again with real traffic.
NGINX_UPSTREAM_SERVERS=""
old_ifs="$IFS"
IFS=','
for upstream in $APP_UPSTREAMS; do
  upstream="$(printf '%s' "$upstream" | tr -d ' ')"
  [ -n "$upstream" ] || continue
  printf '%s' "$upstream" | grep -Eq '^[A-Za-z0-9.-]+:[0-9]{1,5}$|^\[[0-9A-Fa-f:]+\]:[0-9]{1,5}$' ||
    fail "APP_UPSTREAMS entry is not host:port: $upstream"
  NGINX_UPSTREAM_SERVERS="${NGINX_UPSTREAM_SERVERS}    server ${upstream} max_fails=3 fail_timeout=10s;
"
done
# /admin: one `allow` line per configured network; the location ends with `deny all`.
NGINX_ADMIN_ALLOW=""
for network in $ADMIN_ALLOWED_CIDRS; do
  network="$(printf '%s' "$network" | tr -d ' ')"
  [ -n "$network" ] || continue
  printf '%s' "$network" | grep -Eq '^[0-9A-Fa-f.:]+(/[0-9]{1,3})?$' || fail "ADMIN_ALLOWED_CIDRS entry is not an address or CIDR range: $network"
  NGINX_ADMIN_ALLOW="${NGINX_ADMIN_ALLOW}    allow ${network};
"
done
# The listeners, one pair of lines per address.
NGINX_HTTPS_LISTEN=""
NGINX_HTTP_LISTEN=""
for address in $NGINX_LISTEN_ADDRESSES; do
  address="$(printf '%s' "$address" | tr -d ' ')"
  [ -n "$address" ] || continue
  printf '%s' "$address" | grep -Eq '^[0-9.]+$|^\[[0-9A-Fa-f:]+\]$' || fail "NGINX_LISTEN_ADDRESSES entry is not an IPv4 or [IPv6] address: $address"
  NGINX_HTTPS_LISTEN="${NGINX_HTTPS_LISTEN}        listen ${address}:${NGINX_HTTPS_PORT} ssl http2 default_server;
"
  NGINX_HTTP_LISTEN="${NGINX_HTTP_LISTEN}        listen ${address}:${NGINX_HTTP_PORT} default_server;
"
done
IFS="$old_ifs"
[ -n "$NGINX_HTTPS_LISTEN" ] || fail "NGINX_LISTEN_ADDRESSES names no address"
[ -n "$NGINX_UPSTREAM_SERVERS" ] || fail "APP_UPSTREAMS names no instance"
[ -n "$NGINX_ADMIN_ALLOW" ] || fail "ADMIN_ALLOWED_CIDRS names no network"

NGINX_PROXY_BIND_DIRECTIVE=""
if [ -n "$NGINX_PROXY_BIND" ]; then
  printf '%s' "$NGINX_PROXY_BIND" | grep -Eq '^[0-9A-Fa-f.:]+$' || fail "NGINX_PROXY_BIND is not an IP address: $NGINX_PROXY_BIND"
  NGINX_PROXY_BIND_DIRECTIVE="proxy_bind ${NGINX_PROXY_BIND};"
fi
# The Host header the apps see is always the public origin's: Next builds absolute URLs from it (the origin it
# fetches a server action's redirect target from, and the host it compares a server action's Origin with), so
# a client must not choose it.
NGINX_PUBLIC_HOST="${NGINX_PUBLIC_ORIGIN#https://}"
NGINX_USER_DIRECTIVE=""
if [ -n "$NGINX_USER" ]; then
  printf '%s' "$NGINX_USER" | grep -Eq '^[a-z_][a-z0-9_-]*$' || fail "NGINX_USER is not a user name: $NGINX_USER"
  NGINX_USER_DIRECTIVE="user ${NGINX_USER};"
fi
NGINX_CONF_DIR="$(mkdir -p "$output_directory" && cd "$output_directory" && pwd)"
case "$NGINX_CONF_DIR" in *[!A-Za-z0-9/._-]*) fail "OUTPUT_DIR may hold only letters, digits and / . _ -: $NGINX_CONF_DIR" ;; esac

export NGINX_HTTPS_PORT NGINX_HTTP_PORT NGINX_PUBLIC_ORIGIN NGINX_TLS_CERT NGINX_TLS_KEY NGINX_RUNTIME_DIR \
  NGINX_UPSTREAM_CA NGINX_UPSTREAM_TLS_NAME NGINX_LIMIT_REQ_RATE NGINX_LIMIT_REQ_BURST NGINX_MODULES_DIR \
  MODSECURITY_CRS_DIR NGINX_UPSTREAM_SERVERS NGINX_ADMIN_ALLOW NGINX_PROXY_BIND_DIRECTIVE NGINX_USER_DIRECTIVE \
  NGINX_CONF_DIR NGINX_HTTPS_LISTEN NGINX_HTTP_LISTEN NGINX_PUBLIC_HOST
variables='${NGINX_HTTPS_PORT} ${NGINX_HTTP_PORT} ${NGINX_PUBLIC_ORIGIN} ${NGINX_TLS_CERT} ${NGINX_TLS_KEY}
${NGINX_RUNTIME_DIR} ${NGINX_UPSTREAM_CA} ${NGINX_UPSTREAM_TLS_NAME} ${NGINX_LIMIT_REQ_RATE} ${NGINX_LIMIT_REQ_BURST}
${NGINX_MODULES_DIR} ${MODSECURITY_CRS_DIR} ${NGINX_UPSTREAM_SERVERS} ${NGINX_ADMIN_ALLOW} ${NGINX_PROXY_BIND_DIRECTIVE}
${NGINX_USER_DIRECTIVE} ${NGINX_CONF_DIR} ${NGINX_HTTPS_LISTEN} ${NGINX_HTTP_LISTEN} ${NGINX_PUBLIC_HOST}'

mkdir -p "$NGINX_CONF_DIR/modsecurity" "$NGINX_RUNTIME_DIR/logs" "$NGINX_RUNTIME_DIR/tmp/modsecurity"
for template in "$source_directory"/templates/*.template; do
  envsubst "$variables" < "$template" > "$NGINX_CONF_DIR/$(basename "$template" .template)"
done
for template in "$source_directory"/modsecurity/*.template; do
  envsubst "$variables" < "$template" > "$NGINX_CONF_DIR/modsecurity/$(basename "$template" .template)"
done
# The rule files without settings are copied as they are.
for rules in "$source_directory"/modsecurity/*.conf; do
  cp "$rules" "$NGINX_CONF_DIR/modsecurity/"
done
printf 'render.sh: nginx configuration written to %s/nginx.conf\n' "$NGINX_CONF_DIR"
