#!/usr/bin/env bash
# Bounds of issue #10, measured: builds main.swift with the Domain and Simulator sources (swiftc -O,
# no SwiftPM; the Lab target under Sources/Simulator/Lab needs Adapters and is left out) and prints
# decode and `config check` times at n and 2n for n WANs, groups and policy routes, then the time
# and peak RSS of a scenario at each work limit (ScenarioDecoder.Limits.probes, .connections).
#   bash Benchmarks/Scaling/run.sh [n] [WANs|groups|policies|work]     # default n = 10000, all
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
out=.build/scaling
rm -rf "$out"
mkdir -p "$out"
swiftc -O -wmo -parse-as-library -module-name Domain -emit-module -emit-module-path "$out/Domain.swiftmodule" \
    -emit-library -static -o "$out/libDomain.a" $(find Sources/Domain -name '*.swift' | sort)
printf 'enum PackageResources {\n    static let basic_dual_wan_blackhole_hcl: [UInt8] = []\n}\n' > "$out/PackageResources.swift"
swiftc -O -wmo -parse-as-library -module-name Simulator -I "$out" -emit-module -emit-module-path "$out/Simulator.swiftmodule" \
    -emit-library -static -o "$out/libSimulator.a" $(find Sources/Simulator -path Sources/Simulator/Lab -prune -o -name '*.swift' -print | sort) \
    "$out/PackageResources.swift"
swiftc -O -wmo -I "$out" Benchmarks/Scaling/main.swift "$out/libSimulator.a" "$out/libDomain.a" -o "$out/scaling"
echo "load: $(cut -d' ' -f1-3 /proc/loadavg) (1, 5, 15 min) on $(nproc) cores"
"$out/scaling" "$@"
