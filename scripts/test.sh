#!/usr/bin/env bash
# The whole test suite: unit, integration (real PostgreSQL, Redis, moto) and end-to-end (HTTP,
# worker processes). Starts the local services it needs, builds the worker binary the e2e tests
# spawn, type-checks everything, then runs Jest. Extra arguments go to Jest.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

RUNBOOKD_NEED_POSTGRES=1 bash scripts/sandbox/ensure-services.sh
npm run --silent build
npx tsc -p tsconfig.check.json

mkdir -p test/artifacts
status=0
npx jest --ci --json --outputFile=test/artifacts/jest-results.json "$@" || status=$?
# One plain closing line, whatever reads the log.
node -e '
  const r = require("./test/artifacts/jest-results.json");
  console.log(`${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests} skipped`);
' || true
exit $status
