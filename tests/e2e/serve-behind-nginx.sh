#!/usr/bin/env bash
# Serves the built app behind nginx with ModSecurity and the OWASP Core Rule Set, for the end-to-end suite
# (playwright.config.ts): the suite's browser flows then pass through the same front as a deployment, with the
# configuration of docker/nginx (README, Deploy), and any request the firewall would refuse fails the suite.
#
#   FRONT_HTTPS_PORT=8443 FRONT_HTTP_PORT=1443 PORT=8463 HTTP_PORT=1463 DATA_DIR=... tests/e2e/serve-behind-nginx.sh
#
# The app is started by `./run.sh start` on PORT (its own HTTP redirect on HTTP_PORT), with APP_ORIGIN the
# front's origin and nginx's connecting address (127.0.0.2) as its only trusted proxy; every other setting
# comes from the environment, as for `./run.sh start`. nginx listens on FRONT_HTTPS_PORT and FRONT_HTTP_PORT on
# 127.0.0.1 and lets /admin through from 127.0.0.1 only. Both stop when this script is stopped.
set -euo pipefail
cd "$(dirname "$0")/../.."

front_https_port="${FRONT_HTTPS_PORT:?FRONT_HTTPS_PORT is required}"
front_http_port="${FRONT_HTTP_PORT:?FRONT_HTTP_PORT is required}"
app_port="${PORT:?PORT is required}"
data_directory="${DATA_DIR:?DATA_DIR is required}"
proxy_bind=127.0.0.2

app_pid=""
nginx_pid=""
stop() {
  trap - EXIT INT TERM
  [ -n "$nginx_pid" ] && kill -TERM "$nginx_pid" 2>/dev/null
  [ -n "$app_pid" ] && kill -TERM "$app_pid" 2>/dev/null
  wait 2>/dev/null || true
}
trap stop EXIT
trap 'stop; exit 143' TERM
trap 'stop; exit 130' INT

# The server's own log goes to SERVER_LOG_FILE when the caller names one (./run.sh test does, and checks it for
# secrets and PII after the suite: tests/operations/log-hygiene.ts).
APP_ORIGIN="https://localhost:$front_https_port" TRUSTED_PROXIES="$proxy_bind" ./run.sh start &
app_pid=$!
for _ in $(seq 1 480); do
  curl -ksf -o /dev/null "https://127.0.0.1:$app_port/api/health" && break
  kill -0 "$app_pid" 2>/dev/null || { echo "serve-behind-nginx: the app stopped while starting" >&2; exit 1; }
  sleep 0.5
done

# run.sh start made the data folder and its certificate; nginx serves the same certificate and trusts it for
# the hop to the app.
data_directory="$(cd "$data_directory" && pwd)"
nginx_user=""
[ "$(id -u)" = 0 ] && nginx_user=root
NGINX_HTTPS_PORT="$front_https_port" NGINX_HTTP_PORT="$front_http_port" NGINX_PUBLIC_ORIGIN="https://localhost:$front_https_port" \
  APP_UPSTREAMS="127.0.0.1:$app_port" ADMIN_ALLOWED_CIDRS=127.0.0.1/32 NGINX_LISTEN_ADDRESSES=127.0.0.1 \
  NGINX_TLS_CERT="$data_directory/tls/cert.pem" NGINX_TLS_KEY="$data_directory/tls/key.pem" \
  NGINX_RUNTIME_DIR="$data_directory/nginx-runtime" NGINX_PROXY_BIND="$proxy_bind" NGINX_USER="$nginx_user" \
  docker/nginx/render.sh "$data_directory/nginx" >/dev/null
/usr/sbin/nginx -e "$data_directory/nginx-runtime/logs/error.log" -c "$data_directory/nginx/nginx.conf" -g 'daemon off;' &
nginx_pid=$!
# Whichever stops first ends the other.
wait -n "$app_pid" "$nginx_pid" || true
