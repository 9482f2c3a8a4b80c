#!/usr/bin/env bash
# Builds the libFuzzer targets in Fuzz/Targets (outside the main `swift build`: swiftc with
# -sanitize=fuzzer,address over the Domain and Simulator sources) and runs each for a bounded time.
# A crash, a leak report, an input slower than 10 s or above 2 GB fails the run; the input is saved
# under .build/fuzz/artifacts/<target>/ and named in the output.
#
#   bash Fuzz/run.sh                   # every target, 45 s each (CI runs 30 s each: scripts/test.sh,
#                                      # FLYWALL_FUZZ_SECONDS)
#   bash Fuzz/run.sh 600 simulate      # one target for 10 minutes
#
# Seeds: Fuzz/corpus/ (spec snippets and edge cases, committed) and Scenarios/ (read in place).
# New inputs the fuzzer finds go to .build/fuzz/work/<target>/ (kept between local runs).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

seconds=${1:-45}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(hcl-parser config-decoder scenario-decoder simulate)

build=.build/fuzz
mkdir -p "$build"
rm -f "$build/libDomain.a" "$build/libSimulator.a"   # ar adds to an old archive; start clean
flags=(-sanitize=fuzzer,address -O -g -parse-as-library)
quiet() { grep -v "Cannot export local symbol" || true; }

# SwiftPM generates this for `.embedInCode`; swiftc alone needs it written out.
{
    echo "enum PackageResources {"
    echo "    static let basic_dual_wan_blackhole_hcl: [UInt8] = Array(####\"\"\""
    cat Scenarios/basic-dual-wan-blackhole.hcl
    echo "\"\"\"####.utf8)"
    echo "}"
} > "$build/PackageResources.swift"

echo "fuzz: building Domain, Simulator and ${#targets[@]} targets"
swiftc "${flags[@]}" -module-name Domain -emit-module -emit-module-path "$build/Domain.swiftmodule" \
    -emit-library -static -o "$build/libDomain.a" $(find Sources/Domain -name '*.swift' | sort) 2>&1 | quiet
swiftc "${flags[@]}" -module-name Simulator -I "$build" -emit-module -emit-module-path "$build/Simulator.swiftmodule" \
    -emit-library -static -o "$build/libSimulator.a" $(find Sources/Simulator -path Sources/Simulator/Lab -prune -o -name '*.swift' -print | sort) \
    "$build/PackageResources.swift" 2>&1 | quiet
for target in "${targets[@]}"; do
    swiftc "${flags[@]}" -I "$build" "Fuzz/Targets/$target.swift" Fuzz/Targets/FuzzFiles.swift \
        "$build/libSimulator.a" "$build/libDomain.a" -o "$build/$target" 2>&1 | quiet
done

failed=0
for target in "${targets[@]}"; do
    work="$build/work/$target"
    artifacts="$build/artifacts/$target"
    log="$build/$target.log"
    mkdir -p "$work" "$artifacts"
    status=0
    "$build/$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
        -dict=Fuzz/hcl.dict -artifact_prefix="$artifacts/" -print_final_stats=1 \
        "$work" Fuzz/corpus Scenarios > "$log" 2>&1 || status=$?
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    coverage=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
    features=$(grep -o 'ft: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
    if [ "$status" -eq 0 ]; then
        echo "fuzz: $target: ${runs:-?} runs in ${seconds}s (${speed:-?}/s), coverage ${coverage:-?} edges, ${features:-?} features, 0 crashes"
    else
        failed=1
        echo "fuzz: $target: FAILED (exit $status) after ${runs:-?} runs; log $log; input saved:"
        ls -1 "$artifacts" | sed "s|^|  $artifacts/|"
        grep -E "ERROR|Fatal error|Program crashed| at Sources/|panic|SUMMARY|leak" "$log" | head -20 | sed 's/^/  /'
        # The input itself, so a failure seen only on a CI machine can be replayed anywhere:
        #   base64 -d > crash; .build/fuzz/<target> crash
        for input in "$artifacts"/*; do
            [ -f "$input" ] && [ "$(stat -c %s "$input")" -le 8192 ] || continue
            echo "  $(basename "$input") as base64:"
            base64 -w 100 "$input" | sed 's/^/    /'
        done
    fi
done
if [ "$failed" -ne 0 ]; then
    echo "fuzz: FAILED"
    exit 1
fi
echo "fuzz: all ${#targets[@]} targets passed (${seconds}s each)"
