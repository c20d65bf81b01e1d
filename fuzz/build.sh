#!/bin/sh
# Builds the libFuzzer harnesses (fuzz/harnesses/*.swift) against an instrumented copy of the DNABert core.
#   fuzz/build.sh [OUT]        OUT defaults to .build-fuzz; binaries are OUT/fuzz-<name>
# The core is compiled straight with swiftc (no SwiftPM): one static library with -sanitize=fuzzer,address
# (coverage + AddressSanitizer), -O (Swift's overflow and bounds checks stay on: a trap is a finding) and
# -enable-testing (harnesses may use internal parse entry points through @testable import).
set -eu
cd "$(dirname "$0")/.."
OUT=${1:-.build-fuzz}
SAN=${FUZZ_SANITIZE:-fuzzer,address}
mkdir -p "$OUT/mods"

AVXFLAGS=""
if [ "$(uname -m)" = x86_64 ]; then
  AVXFLAGS="-D DNABERT_FMA -Xcc -mavx512f -Xcc -mavx512bw -Xcc -mavx512dq -Xcc -mavx512vl -Xcc -mavx2 -Xcc -mfma"
fi

newer() {  # newer TARGET SOURCES...: true when TARGET is missing or older than one of SOURCES
  t=$1; shift
  [ -e "$t" ] || return 0
  for s in "$@"; do [ "$s" -nt "$t" ] && return 0; done
  return 1
}

AVX_SRC=$(find Sources/DNABertAVX512 -name '*.swift' | sort)
if newer "$OUT/libDNABertAVX512.a" $AVX_SRC; then
  echo "fuzz: building DNABertAVX512 (not instrumented: arithmetic kernels only)"
  # shellcheck disable=SC2086
  swiftc -parse-as-library -O -wmo -package-name dnabert -module-name DNABertAVX512 $AVXFLAGS \
    -emit-module -emit-module-path "$OUT/mods/DNABertAVX512.swiftmodule" \
    -emit-library -static -o "$OUT/libDNABertAVX512.a" $AVX_SRC
fi

CORE_SRC=$(find Sources/DNABert -name '*.swift' | sort)
if newer "$OUT/libDNABert.a" $CORE_SRC "$OUT/libDNABertAVX512.a"; then
  echo "fuzz: building DNABert with -sanitize=$SAN"
  # shellcheck disable=SC2086
  swiftc -parse-as-library -O -g -wmo -enable-testing -sanitize="$SAN" -package-name dnabert -module-name DNABert \
    -I "$OUT/mods" -I Sources/CZlib \
    -emit-module -emit-module-path "$OUT/mods/DNABert.swiftmodule" \
    -emit-library -static -o "$OUT/libDNABert.a" $CORE_SRC
fi

for h in fuzz/harnesses/*.swift; do
  name=$(basename "$h" .swift)
  bin="$OUT/fuzz-$name"
  if newer "$bin" "$h" fuzz/support/FuzzSupport.swift "$OUT/libDNABert.a"; then
    echo "fuzz: linking $bin"
    rm -f "$bin"
    swiftc -parse-as-library -O -g -sanitize="$SAN" -use-ld=lld -module-name "Fuzz_$name" \
      -I "$OUT/mods" -I Sources/CZlib \
      "$PWD/fuzz/support/FuzzSupport.swift" "$PWD/$h" "$OUT/libDNABert.a" "$OUT/libDNABertAVX512.a" -lz \
      -o "$bin" || true
    [ -x "$bin" ] || { echo "fuzz: linking $bin failed" >&2; exit 1; }
  fi
done
