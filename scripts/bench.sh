#!/usr/bin/env bash
# Builds the benchmark package (Benchmarks/, ordo-one/benchmark) in release mode and runs it.
# Not part of CI. Extra arguments go to the benchmark plugin, e.g.
#   bash scripts/bench.sh --filter "Parse.*"
#   bash scripts/bench.sh --format markdown
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../Benchmarks"

swift build -c release
swift package --disable-sandbox benchmark "$@"
