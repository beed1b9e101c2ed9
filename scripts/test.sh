#!/usr/bin/env bash
# Sets everything up, then runs every test: type check, import-layering lint, unit tests beside
# the code, and the acceptance suite that drives the real kubectl.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
echo "== type check (sources, tests and benchmarks)"; node node_modules/typescript/bin/tsc -p tsconfig.check.json
echo "== lint: one-way imports"; node scripts/lint-imports.mjs
# Each suite runs under a hard time limit, so a hung test fails CI instead of stalling it.
echo "== unit tests"
timeout 900 node --import tsx --test --test-reporter=spec --test-concurrency=2 $(find src scripts -name '*.test.ts' | sort)
echo "== acceptance tests"
timeout 1500 node --import tsx --test --test-reporter=spec --test-concurrency=2 $(find test -name '*.test.ts' | sort)
