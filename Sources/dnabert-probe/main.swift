// dnabert-probe: release-mode measurements of the BLAS bridge and the encoder forward pass.
//   dnabert-probe blas                      sgemm GFLOP/s on 768-ish shapes, 1 and 2 workers
//   dnabert-probe forward B L [threads] [reps] [layers]   forward time, GFLOP/s, peak RSS (117M shape, random weights)
//   dnabert-probe attention L [threads]     flash attention alone (12 heads × 64)
//   dnabert-probe regions [threads]         cost of a parallel region: `threads` chunks of 0–1000 µs busy work each
//                                           (compare DNABERT_SPIN_US=0, workers that sleep between regions)
//   dnabert-probe checkpoint-stress OUT     save checkpoints in a loop (killed by a test with SIGKILL)
import DNABert
#if canImport(Glibc)
import Glibc
#endif

func fmt(_ x: Double, _ digits: Int) -> String {
    var buf = [CChar](repeating: 0, count: 64)
    _ = withVaList([digits, x]) { vsnprintf(&buf, 64, "%.*f", $0) }
    return String(cString: buf)
}

func peakRSSMB() -> Double {
    var u = rusage()
    getrusage(RUSAGE_SELF.rawValue, &u)
    return Double(u.ru_maxrss) / 1024
}

let args = CommandLine.arguments
let mode = args.count > 1 ? args[1] : "blas"
if mode == "checkpoint-stress" { checkpointStress(args) }
if mode == "blasinfo-slowhost" {
    // Simulate a host (R, numpy) that loaded OpenBLAS with the slow SSE3 core before us.
    setenv("OPENBLAS_CORETYPE", "Prescott", 1)
    if dlopen("libopenblas.so.0", RTLD_NOW | RTLD_GLOBAL) == nil { print("cannot preload libopenblas.so.0") }
    unsetenv("OPENBLAS_CORETYPE")
}
do { try BLAS.ensureLoaded() } catch { print("BLAS: \(error)") }
print(BLAS.info)

func fillRandom(_ p: UnsafeMutablePointer<Float>, _ n: Int) {
    var s: UInt32 = 12345
    for i in 0..<n { s = s &* 1664525 &+ 1013904223; p[i] = Float(s >> 8) / Float(1 << 24) - 0.5 }
}

switch mode {
case "blasinfo", "blasinfo-slowhost":
    // Which copy/core is in use and how fast it is (run with LD_PRELOAD=libopenblas.so.0 to simulate a host
    // process that already loaded OpenBLAS with the slow default core).
    let (m, n, k) = (512, 768, 768)
    let a = UnsafeMutablePointer<Float>.allocate(capacity: m * k); fillRandom(a, m * k)
    let b = UnsafeMutablePointer<Float>.allocate(capacity: n * k); fillRandom(b, n * k)
    let c = UnsafeMutablePointer<Float>.allocate(capacity: m * n)
    var best = 1e9
    for _ in 0..<5 {
        let t0 = Clock.now()
        for _ in 0..<10 { BLAS.sgemm(transA: .noTrans, transB: .trans, m: m, n: n, k: k, alpha: 1, a: a, lda: k, b: b, ldb: k, beta: 0, c: c, ldc: n) }
        best = min(best, (Clock.now() - t0) / 10)
    }
    print("sgemm 512x768x768 1 thread: \(fmt(2.0 * Double(m * n * k) / best / 1e9, 1)) GFLOP/s")
    if let h = dlopen("libopenblas.so.0", RTLD_NOW | RTLD_NOLOAD), let f = dlsym(h, "openblas_get_corename") {
        typealias Fn = @convention(c) () -> UnsafeMutablePointer<CChar>?
        print("the process's global libopenblas.so.0 reports core: \(unsafeBitCast(f, to: Fn.self)().map { String(cString: $0) } ?? "?")")
    }
case "blas":
    let shapes: [(Int, Int, Int)] = [(128, 2304, 768), (512, 768, 768), (512, 6144, 768), (512, 768, 3072), (2048, 2304, 768), (64, 256, 64), (64, 64, 256)]
    for (m, n, k) in shapes {
        let a = UnsafeMutablePointer<Float>.allocate(capacity: m * k); fillRandom(a, m * k)
        let b = UnsafeMutablePointer<Float>.allocate(capacity: n * k); fillRandom(b, n * k)
        let c = UnsafeMutablePointer<Float>.allocate(capacity: m * n)
        for threads in [1, 2] {
            var best = 1e9
            let reps = max(1, 2_000_000_000 / (2 * m * n * k))
            for _ in 0..<5 {
                let t0 = Clock.now()
                for _ in 0..<reps {
                    Linear.forward(x: a, ldx: k, rows: m, inFeatures: k, weight: b, outFeatures: n, bias: nil, y: c, ldy: n, threads: threads)
                }
                best = min(best, (Clock.now() - t0) / Double(reps))
            }
            print("sgemm x·Wᵀ m=\(m) n=\(n) k=\(k) workers=\(threads): \(fmt(2.0 * Double(m * n * k) / best / 1e9, 1)) GFLOP/s")
        }
        a.deallocate(); b.deallocate(); c.deallocate()
    }
    // OpenBLAS's own threading for comparison.
    for threads in [1, 2] {
        BLAS.setThreads(threads)
        let (m, n, k) = (512, 2304, 768)
        let a = UnsafeMutablePointer<Float>.allocate(capacity: m * k); fillRandom(a, m * k)
        let b = UnsafeMutablePointer<Float>.allocate(capacity: n * k); fillRandom(b, n * k)
        let c = UnsafeMutablePointer<Float>.allocate(capacity: m * n)
        var best = 1e9
        for _ in 0..<5 {
            let t0 = Clock.now()
            for _ in 0..<5 { BLAS.sgemm(transA: .noTrans, transB: .trans, m: m, n: n, k: k, alpha: 1, a: a, lda: k, b: b, ldb: k, beta: 0, c: c, ldc: n) }
            best = min(best, (Clock.now() - t0) / 5)
        }
        print("OpenBLAS-internal threads=\(threads) m=\(m) n=\(n) k=\(k): \(fmt(2.0 * Double(m * n * k) / best / 1e9, 1)) GFLOP/s")
    }
    BLAS.setThreads(1)
case "regions":
    // Wall time of Parallel.forEach(t, threads: t) whose chunks each busy-wait `work` µs, against the ideal `work`:
    // the excess is what starting and ending a region costs (waking a sleeping worker, waiting for the last one).
    let t = args.count > 2 ? Int(args[2]) ?? 2 : 2
    print("threads \(t), DNABERT_SPIN_US=\(getenv("DNABERT_SPIN_US").map { String(cString: $0) } ?? "(unset)")")
    for work in [0.0, 5, 20, 100, 300, 1000] {
        let n = work >= 300 ? 300 : 2000
        var best = Double.infinity
        for _ in 0..<3 {
            let t0 = Clock.now()
            for _ in 0..<n {
                Parallel.forEach(t, threads: t) { _ in
                    let end = Clock.now() + work * 1e-6
                    while Clock.now() < end {}
                }
            }
            best = min(best, (Clock.now() - t0) / Double(n))
        }
        print("chunks of \(fmt(work, 0)) µs: \(fmt(best * 1e6, 1)) µs per region, \(fmt(best * 1e6 - work, 1)) µs over the work")
    }
case "attention":
    let L = args.count > 2 ? Int(args[2]) ?? 1024 : 1024
    let threads = args.count > 3 ? Int(args[3]) ?? 2 : 2
    let tq = args.count > 4 ? Int(args[4]) ?? 64 : 64
    let tk = args.count > 5 ? Int(args[5]) ?? 256 : 256
    let H = 768, heads = 12
    let qkv = UnsafeMutablePointer<Float>.allocate(capacity: L * 3 * H); fillRandom(qkv, L * 3 * H)
    let out = UnsafeMutablePointer<Float>.allocate(capacity: L * H)
    let slopes = ALiBi.slopes(heads: heads)
    for headMajor in [false, true] {
        var best = 1e9
        for _ in 0..<3 {
            let t0 = Clock.now()
            if headMajor {
                FlashAttention.forward(q: qkv, k: qkv + L * H, v: qkv + 2 * L * H, stride: 64, out: out, outStride: H,
                                       spans: [.init(start: 0, count: L)], positions: nil, heads: heads, headDim: 64,
                                       slopes: slopes, scale: 0.125, headStride: L * 64, threads: threads, tileQ: tq, tileK: tk)
            } else {
                FlashAttention.forward(q: qkv, k: qkv + H, v: qkv + 2 * H, stride: 3 * H, out: out, outStride: H,
                                       spans: [.init(start: 0, count: L)], positions: nil, heads: heads, headDim: 64,
                                       slopes: slopes, scale: 0.125, threads: threads, tileQ: tq, tileK: tk)
            }
            best = min(best, Clock.now() - t0)
        }
        print("attention L=\(L) threads=\(threads) tile \(tq)x\(tk) \(headMajor ? "head-major" : "token-major"): \(fmt(best, 4)) s, \(fmt(4.0 * Double(L * L * H) / best / 1e9, 1)) GFLOP/s")
    }
case "forward":
    let B = args.count > 2 ? Int(args[2]) ?? 1 : 1
    let L = args.count > 3 ? Int(args[3]) ?? 128 : 128
    let threads = args.count > 4 ? Int(args[4]) ?? 2 : 2
    let reps = args.count > 5 ? Int(args[5]) ?? 3 : 3
    var cfg = ModelConfig()
    if args.count > 6, let nl = Int(args[6]) { cfg.numLayers = nl }
    let model = try! Model(config: cfg)
    model.initializeRandom(seed: 1)
    var ids = [Int32](repeating: 0, count: B * L)
    var s: UInt32 = 7
    for i in 0..<(B * L) { s = s &* 1664525 &+ 1013904223; ids[i] = Int32(5 + Int(s >> 8) % 4091) }
    var opts = ForwardOptions()
    opts.threads = threads
    let H = Double(cfg.hiddenSize), I = Double(cfg.intermediateSize)
    let tokens = Double(B * L)
    let flops = Double(cfg.numLayers) * (2 * tokens * (3 * H * H + H * H + 2 * I * H + I * H) + 4 * Double(B) * Double(L) * Double(L) * H)
    var best = 1e9
    for _ in 0..<reps {
        let t0 = Clock.now()
        let out = try! ids.withUnsafeBufferPointer { try model.forward(ids: $0, batch: B, length: L, attentionMask: nil, options: opts) }
        best = min(best, Clock.now() - t0)
        precondition(out.lastHidden.count == B * L * cfg.hiddenSize)
    }
    print("forward B=\(B) L=\(L) threads=\(threads) layers=\(cfg.numLayers): best \(fmt(best, 4)) s, \(fmt(flops / best / 1e9, 1)) GFLOP/s, peak RSS \(fmt(peakRSSMB(), 0)) MB")
case "train":
    trainProbe(args)
case "check":
    // dnabert-probe check DIR B L layers: compare with bench/check_forward_vs_torch.py's PyTorch output.
    func readFile<T>(_ path: String, _: T.Type) -> [T] {
        guard let f = fopen(path, "rb") else { print("cannot open \(path)"); exit(1) }
        defer { fclose(f) }
        fseek(f, 0, SEEK_END); let bytes = ftell(f); fseek(f, 0, SEEK_SET)
        var a = [UInt8](repeating: 0, count: bytes)
        _ = fread(&a, 1, bytes, f)
        return a.withUnsafeBytes { Array($0.bindMemory(to: T.self)) }
    }
    let dir = args[2], B = Int(args[3])!, L = Int(args[4])!
    var cfg = ModelConfig(); cfg.numLayers = Int(args[5])!
    let model = try! Model(config: cfg, mlmHead: false)
    let params = readFile(dir + "/params.bin", Float.self)
    guard params.count == model.parameters.count else { print("params: \(params.count) floats, layout wants \(model.parameters.count)"); exit(1) }
    _ = model.parameters.update(fromContentsOf: params)
    let ids = readFile(dir + "/ids.bin", Int32.self), mask = readFile(dir + "/mask.bin", Int32.self)
    let want = readFile(dir + "/expected.bin", Float.self)
    let out = try! ids.withUnsafeBufferPointer { i in try mask.withUnsafeBufferPointer { m in
        try model.forward(ids: i, batch: B, length: L, attentionMask: m)
    } }
    var worst: Float = 0, scale: Float = 0
    for (a, b) in zip(out.lastHidden, want) { worst = max(worst, abs(a - b)); scale = max(scale, abs(b)) }
    print("check B=\(B) L=\(L) layers=\(cfg.numLayers): max |ours - torch| = \(worst) (max |torch| = \(scale)), \(out.lastHidden.count) values")
default:
    print("unknown mode \(mode)")
}
