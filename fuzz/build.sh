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

# The C targets the core imports (fork guard, thread pool, the MPI shim, the int8 and float32 kernels): compiled with clang and the same
# AddressSanitizer (and coverage, for the fuzzer), each made a Clang module for swiftc by one module map.
CFLAGS_SAN=$(echo "$SAN" | sed 's/fuzzer/fuzzer-no-link/')
mkdir -p "$OUT/cmods"
: > "$OUT/cmods/module.modulemap.tmp"
for tgt in CForkGuard CThreadPool CMPIShim CInt8Kernels CFloatKernels; do
  srcs=$(find "Sources/$tgt" -name '*.c' | sort)
  # every header of the target's include/, as SwiftPM's umbrella directory makes it (CFloatKernels has two)
  printf 'module %s {\n  umbrella "%s"\n  export *\n}\n' "$tgt" "$PWD/Sources/$tgt/include" >> "$OUT/cmods/module.modulemap.tmp"
  if newer "$OUT/lib$tgt.a" $srcs "Sources/$tgt/include"/*.h Sources/CInt8Kernels/include/*.h; then
    echo "fuzz: building $tgt (C, -fsanitize=$CFLAGS_SAN)"
    objs=""
    for c in $srcs; do
      o="$OUT/$tgt-$(basename "$c" .c).o"
      # (CFloatKernels includes the int8 kernels' header for the shared CPU check)
      clang -O2 -g -fsanitize="$CFLAGS_SAN" -I "Sources/$tgt/include" -I Sources/CInt8Kernels/include -c "$c" -o "$o"
      objs="$objs $o"
    done
    rm -f "$OUT/lib$tgt.a"
    # shellcheck disable=SC2086
    ar rcs "$OUT/lib$tgt.a" $objs
  fi
done
mv "$OUT/cmods/module.modulemap.tmp" "$OUT/cmods/module.modulemap"

# The SIMD row kernels in their two target builds (symlinks to Sources/DNABert/Kernels), as SwiftPM builds them.
build_simd() {  # build_simd MODULE FLAGS...
  mod=$1; shift   # (not "t": newer() sets t)
  src=$(find "Sources/$mod" -name '*.swift' | sort)
  if newer "$OUT/lib$mod.a" $src; then
    echo "fuzz: building $mod (not instrumented: arithmetic kernels only)"
    # shellcheck disable=SC2086
    swiftc -parse-as-library -O -wmo -package-name dnabert -module-name "$mod" "$@" \
      -emit-module -emit-module-path "$OUT/mods/$mod.swiftmodule" \
      -emit-library -static -o "$OUT/lib$mod.a" $src
  fi
}
AVX2FLAGS=""
[ "$(uname -m)" = x86_64 ] && AVX2FLAGS="-D DNABERT_FMA -Xcc -mavx2 -Xcc -mfma"
# shellcheck disable=SC2086
build_simd DNABertAVX2 $AVX2FLAGS

AVX_SRC=$(find Sources/DNABertAVX512 -name '*.swift' | sort)
if newer "$OUT/libDNABertAVX512.a" $AVX_SRC; then
  echo "fuzz: building DNABertAVX512 (not instrumented: arithmetic kernels only)"
  # shellcheck disable=SC2086
  swiftc -parse-as-library -O -wmo -package-name dnabert -module-name DNABertAVX512 $AVXFLAGS \
    -emit-module -emit-module-path "$OUT/mods/DNABertAVX512.swiftmodule" \
    -emit-library -static -o "$OUT/libDNABertAVX512.a" $AVX_SRC
fi

CORE_SRC=$(find Sources/DNABert -name '*.swift' | sort)
if newer "$OUT/libDNABert.a" $CORE_SRC "$OUT/libDNABertAVX512.a" "$OUT/libDNABertAVX2.a" "$OUT/libCInt8Kernels.a" "$OUT/libCFloatKernels.a" \
    "$OUT/libCForkGuard.a" "$OUT/libCThreadPool.a" "$OUT/libCMPIShim.a"; then
  echo "fuzz: building DNABert with -sanitize=$SAN"
  # shellcheck disable=SC2086
  swiftc -parse-as-library -O -g -wmo -enable-testing -sanitize="$SAN" -package-name dnabert -module-name DNABert \
    -I "$OUT/mods" -I "$OUT/cmods" -I Sources/CZlib \
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
      -I "$OUT/mods" -I "$OUT/cmods" -I Sources/CZlib \
      "$PWD/fuzz/support/FuzzSupport.swift" "$PWD/$h" "$OUT/libDNABert.a" "$OUT/libDNABertAVX512.a" \
      "$OUT/libDNABertAVX2.a" "$OUT/libCInt8Kernels.a" "$OUT/libCFloatKernels.a" "$OUT/libCForkGuard.a" "$OUT/libCThreadPool.a" "$OUT/libCMPIShim.a" -lz -ldl -lpthread \
      -o "$bin" || true
    [ -x "$bin" ] || { echo "fuzz: linking $bin failed" >&2; exit 1; }
  fi
done
