#!/usr/bin/env bash
# The main job on a fresh machine: local Redis and the moto AWS sandbox, runbookd on its embedded
# database, a failover test triggered over HTTP, and its report printed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/sandbox/ensure-services.sh
npm run --silent build
exec node -r @swc-node/register scripts/demo.ts "$@"
