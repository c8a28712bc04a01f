#!/usr/bin/env bash
# Installs what pgpilot needs and is missing (Debian packages, npm dependencies), then builds. Safe to re-run.
# usage: scripts/setup.sh [--test]   (--test also installs what the test suite compares against: Patroni's patronictl)
set -euo pipefail
cd "$(dirname "$0")/.."
for_tests=false
[ "${1:-}" = "--test" ] && for_tests=true

need_pkgs=()
[ -x /usr/lib/postgresql/15/bin/postgres ] || need_pkgs+=(postgresql-15 postgresql-client-15)
command -v etcd >/dev/null 2>&1 || need_pkgs+=(etcd-server)
command -v etcdctl >/dev/null 2>&1 || need_pkgs+=(etcd-client)
command -v pgbouncer >/dev/null 2>&1 || need_pkgs+=(pgbouncer)
command -v setpriv >/dev/null 2>&1 || need_pkgs+=(util-linux)
command -v psql >/dev/null 2>&1 || need_pkgs+=(postgresql-client-15)
if $for_tests; then command -v patronictl >/dev/null 2>&1 || need_pkgs+=(patroni); fi
if [ "${#need_pkgs[@]}" -gt 0 ]; then
  echo "setup: installing Debian packages: ${need_pkgs[*]}"
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null
fi
# Debian starts the packaged etcd and pgbouncer services when it can; they are not pgpilot's and hold default ports.
for svc in etcd pgbouncer; do
  if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet "$svc" 2>/dev/null; then
    echo "setup: note: the system service $svc is running; pgpilot does not use it"
  fi
done

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: installing npm dependencies"
  npm_config_build_from_source=true npm ci --no-audit --no-fund --loglevel=error
fi
# zstd-napi is a native addon compiled at install time (no prebuilt download); rebuild it if that was skipped.
if [ ! -f node_modules/zstd-napi/build/Release/binding.node ]; then
  echo "setup: compiling the zstd addon"
  npm_config_build_from_source=true npm rebuild zstd-napi --loglevel=error
fi
echo "setup: building"
npx tsc -p tsconfig.json
