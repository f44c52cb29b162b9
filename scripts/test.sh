#!/usr/bin/env bash
# One command from a fresh clone to the whole test suite: installs npm dependencies and Debian's
# chromium (browser tests), starts local Redis and FerretDB (unless REDIS_URL / MONGO_URL are set),
# type-checks, checks formatting, lints and runs every test against the real services. Extra arguments
# go to vitest.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
require_node20
ensure_deps
ensure_chromium
bash "$root/scripts/services.sh" start --quiet
cd "$root"
status=0
node node_modules/typescript-native/bin/tsc --noEmit -p . || { echo "vigil: typecheck failed" >&2; status=1; }
node_modules/.bin/prettier --check --log-level warn . || { echo "vigil: formatting check failed (npm run format)" >&2; status=1; }
# Type-aware rules take ~25 s cold; the cache (node_modules/.cache/eslint/) re-checks only changed
# files. Delete it after changing a widely imported type: a cached file is not re-linted when only
# a file it imports changed.
node_modules/.bin/eslint --cache --cache-location node_modules/.cache/eslint/ src protocol workers scripts test bench examples \
  || { echo "vigil: lint failed (npm run lint)" >&2; status=1; }
node_modules/.bin/vitest run "$@" || status=1
exit $status
