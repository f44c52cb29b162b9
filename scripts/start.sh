#!/usr/bin/env bash
# One command from a fresh clone to a running gateway: installs npm dependencies, starts local
# Redis and FerretDB (unless REDIS_URL / MONGO_URL are set), then runs the gateway in the
# foreground with VIGIL_DEV_OUTBOX=1 so codes can be read at /v1/dev/outbox.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
require_node20
ensure_deps
bash "$root/scripts/services.sh" start
cd "$root"
export VIGIL_DEV_OUTBOX=${VIGIL_DEV_OUTBOX:-1}
# The dev outbox is served only when development is said out loud (and on loopback).
export NODE_ENV=${NODE_ENV:-development}
exec node --import tsx src/main.ts
