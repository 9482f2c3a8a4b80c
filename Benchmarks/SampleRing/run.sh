#!/usr/bin/env bash
# The dashboard's sample ring (Sources/Adapters/Operations/RoundSamples.swift), measured: built with
# the Domain sources (swiftc -O, no SwiftPM), it prints what a publication of the core loop costs
# with the ring (64 WANs each with a new round, and none), what the dashboard's reads cost under the
# ring's lock, and the bytes the full rings hold for 2, 64 and 1,000 WANs.
#   bash Benchmarks/SampleRing/run.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
out=.build/sample-ring
rm -rf "$out"
mkdir -p "$out"
swiftc -O -wmo -parse-as-library -module-name Domain -emit-module -emit-module-path "$out/Domain.swiftmodule" \
    -emit-library -static -o "$out/libDomain.a" $(find Sources/Domain -name '*.swift' | sort)
swiftc -O -wmo -I "$out" -module-name SampleRing Sources/Adapters/Operations/RoundSamples.swift \
    Benchmarks/SampleRing/main.swift "$out/libDomain.a" -o "$out/sample-ring"
echo "load: $(cut -d' ' -f1-3 /proc/loadavg) (1, 5, 15 min) on $(nproc) cores"
"$out/sample-ring"
