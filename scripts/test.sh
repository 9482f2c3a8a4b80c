#!/usr/bin/env bash
# Runs the whole test suite: installs missing system packages, then `swift test`.
# Extra arguments go to `swift test` (e.g. `--filter AdaptersTests`).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/install-deps.sh
swift test "$@"
