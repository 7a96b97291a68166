#!/usr/bin/env bash
# The main job on a fresh machine: local Redis and the moto AWS sandbox, runbookd on its embedded
# database, a failover test triggered over HTTP, and its report printed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/sandbox/ensure-services.sh
npm run --silent build
# The demo is a story on the terminal: the SDK's notice that its 2027 releases need Node 22 would
# open it on every Node 20 machine (the service itself sets the same).
AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true exec node -r @swc-node/register scripts/demo.ts "$@"
