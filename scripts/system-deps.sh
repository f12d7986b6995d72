#!/usr/bin/env bash
# Installs the Debian packages the test suite runs for real. Idempotent; needs root only when
# something is missing.
set -euo pipefail
need=()
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
# The forward-auth tests put real nginx (auth_request) and Caddy (forward_auth) in front of the check.
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || need+=(nginx)
command -v caddy >/dev/null 2>&1 || need+=(caddy)
command -v node >/dev/null 2>&1 || need+=(nodejs npm)
# bench/gateway.py (and its smoke test) loads the gateway with wrk.
command -v wrk >/dev/null 2>&1 || need+=(wrk)
# The telemetry tests check deploy/prometheus with promtool and scrape `zerogate up` with a real
# Prometheus (both from Debian's prometheus package).
command -v promtool >/dev/null 2>&1 || need+=(prometheus)
if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "system-deps: missing ${need[*]}; run as root or: sudo apt-get install -y ${need[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}"
