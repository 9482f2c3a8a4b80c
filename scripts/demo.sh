#!/usr/bin/env bash
# The main job on a built-in default: installs missing system packages, builds, and runs
# `flywall simulate` with no file, i.e. the built-in scenario (the primary WAN becomes a black hole
# and new connections fail over to the backup). Extra arguments go to `flywall simulate`
# (e.g. `--json`, `--svg run.svg`, or a scenario file from Scenarios/).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/install-deps.sh
swift build -c debug --product flywall
swift run -c debug --skip-build flywall simulate "$@"
