#!/usr/bin/env bash
# The whole test suite: unit, integration (real PostgreSQL, Redis, moto) and end-to-end (HTTP,
# worker processes). Starts the local services it needs, builds the worker binary the e2e tests
# spawn, type-checks everything, then runs Jest. Extra arguments go to Jest.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

RUNBOOKD_NEED_POSTGRES=1 bash scripts/sandbox/ensure-services.sh
# The HTML report test opens reports in Debian's Chromium (playwright-core drives /usr/bin/chromium).
if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "test.sh: /usr/bin/chromium is missing; installing Debian's chromium" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium
  else
    echo "test.sh: /usr/bin/chromium is missing: the browser test needs it. Install it with" >&2
    echo "  sudo apt-get install -y --no-install-recommends chromium" >&2
    exit 1
  fi
fi
npm run --silent build
npx tsc -p tsconfig.check.json
# ESLint (eslint.config.mjs) over src, web, test, bench and scripts; cached, so a rerun reads only what changed.
npm run --silent lint
# Prettier's layout (.prettierrc; generated files and runbook data in .prettierignore): npm run format fixes it.
npm run --silent format:check
# The layers hold and no import closes a cycle (.dependency-cruiser.cjs; the order is in docs/architecture.md).
npm run --silent lint:deps
# The CDK app (deploy/aws) is a package of its own: its locked dependencies, where not installed yet, for its template test.
node scripts/deploy-aws-deps.js
# The console's API types must be what the built service's OpenAPI document says (npm run api-types).
node scripts/console-api-types.js --check

mkdir -p test/artifacts
status=0
npx jest --ci --json --outputFile=test/artifacts/jest-results.json "$@" || status=$?
# One plain closing line, whatever reads the log.
node -e '
  const r = require("./test/artifacts/jest-results.json");
  console.log(`${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests} skipped`);
' || true
exit $status
