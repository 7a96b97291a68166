#!/usr/bin/env bash
# npm run deploy:synth [-- CDK options, e.g. -c account=111111111111 -c region=eu-west-1]
# Installs deploy/aws's locked dependencies where needed, writes the task role's policy generated
# from the runbooks the image ships (runbooks/, or RUNBOOKD_RUNBOOKS_DIR), type-checks the CDK app
# and synthesises both stacks into deploy/aws/cdk.out. Offline: no context lookup reaches AWS.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

node scripts/deploy-aws-deps.js
mkdir -p deploy/aws/generated
dir_args=()
if [ -n "${RUNBOOKD_RUNBOOKS_DIR:-}" ]; then dir_args=(--dir "$RUNBOOKD_RUNBOOKS_DIR"); fi
node -r @swc-node/register scripts/iam-policy.ts "${dir_args[@]}" > deploy/aws/generated/task-policy.json.tmp
mv deploy/aws/generated/task-policy.json.tmp deploy/aws/generated/task-policy.json
cd deploy/aws
npx tsc -p tsconfig.json
npx cdk synth --lookups=false --quiet "$@"
echo "deploy:synth: templates in deploy/aws/cdk.out (RunbookdStack.template.json, RunbookdMemberStack.template.json)" >&2
