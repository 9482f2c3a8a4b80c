#!/usr/bin/env bash
# Runs the whole test suite: installs missing system packages, then `swift test` (IntegrationTests
# on their own, one test at a time), then the fuzz
# targets for a bounded time each (Fuzz/run.sh; a crash, leak or timeout fails the run).
# Extra arguments go to `swift test` (e.g. `--filter AdaptersTests`) and skip the fuzzing.
# FLYWALL_FUZZ_SECONDS sets the time per fuzz target (default 30; 0 skips).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/install-deps.sh
if [ $# -gt 0 ]; then
    swift test "$@"
else
    # The namespace suites of IntegrationTests start real daemons and time real failovers: they
    # run after everything else (which runs in parallel), one test at a time. `swift test` has no
    # switch for that in Swift Testing, so the test binary it built runs them with the library's own.
    swift test --skip IntegrationTests
    NO_COLOR=1 "$(swift build --show-bin-path)/flywallPackageTests.xctest" --testing-library swift-testing \
        --experimental-maximum-parallelization-width 1 --filter IntegrationTests
fi
seconds=${FLYWALL_FUZZ_SECONDS:-30}
if [ $# -eq 0 ] && [ "$seconds" -gt 0 ]; then
    bash Fuzz/run.sh "$seconds"
fi
