// swift-tools-version:6.0
// dnabert: DNABERT-2 in Swift, shipped as one shared library with a C ABI.
//
//  DNABert      - the core: tokenizer, model, kernels, training. Pure Swift API, no C types.
//  CDNABertABI  - the public C header (include/dnabert.h) plus the thread-local last-error slot, in C.
//  CForkGuard   - a pthread_atfork handler (C, installed at load) for fork safety of parallel regions.
//  CThreadPool  - the parallel regions' workers (C): they spin briefly between regions instead of sleeping.
//  CDNABert     - the @_cdecl exports: validation, handle boxing, error translation. No math.
//  dnabert-cli  - the `dnabert` command.
import PackageDescription

let optimise: [SwiftSetting] = [.unsafeFlags(["-Ounchecked"], .when(configuration: .release))]

// The shared library and the CLI carry the Swift runtime inside them (no Swift runtime needed at run time).
// Given at link time only, so that the library, the CLI and the tests share one set of compiled objects
// (compiling with `-Xswiftc -static-stdlib` hides the Testing module and forces separate builds).
let staticStdlib: [LinkerSetting] = [.unsafeFlags(["-static-stdlib"], .when(platforms: [.linux]))]
// The CLI's FoundationEssentials (through swift-argument-parser) names its own static dependencies only when
// compiled against the static SDK; linked statically here, they are listed explicitly.
let staticStdlibFoundation: [LinkerSetting] = [
    .unsafeFlags(["-static-stdlib", "-l_FoundationCollections", "-l_FoundationCShims"], .when(platforms: [.linux]))]

// Target features of the DNABertAVX512 and DNABertAVX2 modules (x86-64 hosts only; elsewhere they are more
// baseline copies).
#if arch(x86_64)
let avx512Flags = ["-Xcc", "-mavx512f", "-Xcc", "-mavx512bw", "-Xcc", "-mavx512dq", "-Xcc", "-mavx512vl",
                   "-Xcc", "-mavx2", "-Xcc", "-mfma"]
let avx512Defines: [SwiftSetting] = [.define("DNABERT_FMA")]
let avx2Flags = ["-Xcc", "-mavx2", "-Xcc", "-mfma"]
#else
let avx512Flags: [String] = []
let avx512Defines: [SwiftSetting] = []
let avx2Flags: [String] = []
#endif

let package = Package(
    name: "dnabert",
    products: [
        .library(name: "dnabert", type: .dynamic, targets: ["CDNABert"]),
        .executable(name: "dnabert-cli", targets: ["dnabert-cli"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        .systemLibrary(name: "CZlib", path: "Sources/CZlib"),
        .target(name: "DNABert", dependencies: ["CZlib", "DNABertAVX512", "DNABertAVX2", "CForkGuard", "CThreadPool", "CMPIShim", "CInt8Kernels", "CFloatKernels"], swiftSettings: optimise),
        // Open MPI bound at run time (dlopen of libmpi.so.40) for data-parallel runs; nothing links MPI.
        .target(name: "CMPIShim", path: "Sources/CMPIShim", linkerSettings: [.linkedLibrary("dl")]),
        // Int8 GEMM kernels (portable C + AVX-512 VNNI behind a run-time CPU check; see int8_kernels.h).
        .target(name: "CInt8Kernels", path: "Sources/CInt8Kernels", cSettings: [.unsafeFlags(["-O3"])]),
        // The float32 linear-layer GEMM (AVX-512, packs one weight panel at a time; see f32_gemm.h).
        .target(name: "CFloatKernels", dependencies: ["CInt8Kernels"], path: "Sources/CFloatKernels",
                cSettings: [.unsafeFlags(["-O3"])]),
        // A pthread_atfork handler installed at load time: lets Parallel keep a forked child's forking thread
        // out of parallel regions (see Sources/CForkGuard/fork_guard.c).
        .target(name: "CForkGuard", path: "Sources/CForkGuard"),
        // The workers of Parallel.forEach: they spin for DNABERT_SPIN_US between regions, so a forward's few hundred
        // short regions do not each wait for a sleeping thread to wake (see Sources/CThreadPool/thread_pool.c).
        .target(name: "CThreadPool", path: "Sources/CThreadPool", cSettings: [.unsafeFlags(["-O2"])]),
        // The SIMD row kernels (a symlink to DNABert/Kernels/SIMDKernels.swift) built for AVX-512 + FMA;
        // DNABert calls them only after checking the CPU's features (Kernels/SIMDPath.swift).
        .target(name: "DNABertAVX512", swiftSettings: optimise + avx512Defines + [.unsafeFlags(avx512Flags)]),
        // The same kernels for AVX2 + FMA (CPUs without AVX-512: AMD Zen 2/3, Intel before Skylake-SP), where
        // SIMD16<Float> is two ymm registers instead of four xmm ones.
        .target(name: "DNABertAVX2", swiftSettings: optimise + avx512Defines + [.unsafeFlags(avx2Flags)]),
        .target(name: "CDNABertABI", path: "Sources/CDNABertABI", exclude: ["libdnabert.map"]),
        // libdnabert.so: the Swift runtime linked in statically, SONAME libdnabert.so.0 and the ABI's symbol
        // versions (only dnabert_* is exported); -z nodelete: never unmapped by dlclose (R's dyn.unload), since its
        // worker threads keep running code in it.
        .target(name: "CDNABert", dependencies: ["DNABert", "CDNABertABI"], swiftSettings: optimise,
                linkerSettings: staticStdlib + [.unsafeFlags(["-Xlinker", "-soname=libdnabert.so.0", "-Xlinker", "-z", "-Xlinker", "nodelete", "-Xlinker",
                                               "--version-script=\(Context.packageDirectory)/Sources/CDNABertABI/libdnabert.map"],
                                              .when(platforms: [.linux]))]),
        .executableTarget(
            name: "dnabert-cli",
            dependencies: ["DNABert", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: optimise, linkerSettings: staticStdlibFoundation),
        // Release-mode measurement tool for the kernels and the forward pass (not installed).
        .executableTarget(name: "dnabert-probe", dependencies: ["DNABert"], swiftSettings: optimise),
        // Fixtures are read by path (relative to #filePath), not bundled.
        // Compiled without optimisation even in release builds: the library they test is the optimised one,
        // and an optimised build of the tests cost about 150 s of the clean-clone `make test` (issue 11).
        .testTarget(name: "DNABertTests", dependencies: ["DNABert"], exclude: ["Fixtures"],
                    swiftSettings: [.unsafeFlags(["-Onone"], .when(configuration: .release))]),
    ],
    // Swift 5 language mode: the library manages its own threading (Dispatch, explicit ownership of
    // buffers); strict Sendable checking would only add ceremony around raw pointers.
    swiftLanguageModes: [.v5]
)
