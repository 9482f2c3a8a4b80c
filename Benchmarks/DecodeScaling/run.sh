#!/usr/bin/env bash
# Decoding scales linearly: builds main.swift with the Domain sources (swiftc -O, no SwiftPM) and
# prints decode and `config check` times at n and 2n for n WANs, groups and policy routes.
#   bash Benchmarks/DecodeScaling/run.sh [n]      # default n = 10000
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
out=.build/decode-scaling
mkdir -p "$out"
swiftc -O -parse-as-library -module-name Domain -emit-module -emit-module-path "$out/Domain.swiftmodule" \
    -emit-library -static -o "$out/libDomain.a" $(find Sources/Domain -name '*.swift' | sort)
swiftc -O -I "$out" Benchmarks/DecodeScaling/main.swift "$out/libDomain.a" -o "$out/decode-scaling"
echo "load: $(cut -d' ' -f1-3 /proc/loadavg) (1, 5, 15 min) on $(nproc) cores"
"$out/decode-scaling" "$@"
