# Shared helpers for scripts/start.sh and scripts/test.sh. Quiet unless something fails.

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

fail() { echo "vigil: $*" >&2; exit 1; }

require_node20() {
  command -v node >/dev/null || fail "Node.js 20 is required (see .nvmrc)"
  local major
  major=$(node -p 'process.versions.node.split(".")[0]')
  [[ "$major" == 20 ]] || fail "Node.js 20 is required (found $(node -v)); uWebSockets.js ships native binaries for Node ≤ 20 only"
  # AbortSignal.any (socket enrolment follows) arrived in 20.3.
  node -e 'process.exit(typeof AbortSignal.any === "function" ? 0 : 1)' || fail "Node.js 20.3 or later is required (found $(node -v))"
}

# Debian's chromium, for the browser tests (the operator console); installed once, quietly.
ensure_chromium() {
  command -v chromium >/dev/null && return 0
  local log sudo=""
  [[ $(id -u) == 0 ]] || sudo="sudo -n"
  log=$(mktemp)
  if ! { $sudo apt-get update -qq && $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } >"$log" 2>&1; then
    cat "$log" >&2
    rm -f "$log"
    fail "apt-get install chromium failed (the browser tests need it)"
  fi
  rm -f "$log"
}

# Installs npm dependencies when node_modules is missing or older than the lockfile.
# `npm install`, not `npm ci`: the lockfile cannot list optional platform packages (darwin,
# win32 builds of msgpackr-extract) that the registry mirror here does not serve, and npm ci
# refuses such a lockfile. `npm install` still installs the locked versions.
ensure_deps() {
  local stamp="$root/node_modules/.package-lock.json"
  if [[ -f "$stamp" && "$stamp" -nt "$root/package-lock.json" ]]; then return 0; fi
  local log
  log=$(mktemp)
  if ! (cd "$root" && npm install --no-audit --no-fund --loglevel=error >"$log" 2>&1); then
    cat "$log" >&2
    rm -f "$log"
    fail "npm install failed"
  fi
  rm -f "$log"
}
