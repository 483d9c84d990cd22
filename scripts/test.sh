#!/usr/bin/env bash
# The whole test suite, from a fresh Debian 12 machine with Node 20: installs the real
# components the tests use (DESIGN §4) when missing, starts dockerd when no engine answers,
# type-checks, builds the CLI bundle, and runs every test file.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/ensure-test-env.sh
npx --no-install tsc -p tsconfig.json --noEmit
node scripts/build.mjs

# Each file runs in its own process; two at a time on this 2-core machine.
exec node --import tsx --test --test-concurrency=2 --test-timeout=900000 test/*.test.ts
