#!/usr/bin/env bash
# Runs the whole test suite: installs missing system packages, then `swift test`, then the fuzz
# targets for a bounded time each (Fuzz/run.sh; a crash, leak or timeout fails the run).
# Extra arguments go to `swift test` (e.g. `--filter AdaptersTests`) and skip the fuzzing.
# FLYWALL_FUZZ_SECONDS sets the time per fuzz target (default 30; 0 skips).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/install-deps.sh
swift test "$@"
seconds=${FLYWALL_FUZZ_SECONDS:-30}
if [ $# -eq 0 ] && [ "$seconds" -gt 0 ]; then
    bash Fuzz/run.sh "$seconds"
fi
