#if canImport(Glibc)
import Glibc
#endif
import CMPIShim

/// Averages the flat gradient buffer over the ranks while the backward pass is still running (after PyTorch
/// DDP's reducer): the buffer is cut into buckets along the layout (MLM/classifier head, encoder layers from
/// the last to the first, embeddings), and a bucket's non-blocking allreduce (MPI_Iallreduce, sum) starts as
/// soon as the backward has written its last gradient. `finish()` starts what is left, waits for all and
/// returns. Open MPI progresses non-blocking collectives inside MPI calls, so `progress()` is called between
/// layers to move the started buckets along.
///
/// The gradient is a sum over ranks: the trainer scales each micro-batch by 1 / (ranks × accumulation), so the
/// sum is the mean over the global batch.
public final class GradientReducer {
    public let comm: Communicator
    let grad: UnsafeMutableBufferPointer<Float>
    /// Buckets as (lo, hi) float ranges, by region.
    let regions: [Region: Range<Int>]
    private var started: Set<Region> = []
    private var requests: [UnsafeMutableRawPointer?] = []
    /// Seconds waited in `finish()` (communication not hidden by the backward), summed.
    public private(set) var waitSeconds = 0.0
    /// Seconds from the first bucket's start to the end of `finish()`.
    public private(set) var communicationSeconds = 0.0
    private var firstStart = 0.0
    /// A wait longer than this ends the job (a peer died without the launcher noticing).
    public var timeoutSeconds: Double

    public enum Region: Hashable {
        case head
        case layer(Int)
        case embeddings
    }

    /// Buckets over a full model layout (pretraining, full fine-tuning) or one range (LoRA: the adapter buffer).
    public init(comm: Communicator, grad: UnsafeMutableBufferPointer<Float>, layout: ParameterLayout?) {
        self.comm = comm
        self.grad = grad
        var r: [Region: Range<Int>] = [:]
        if let layout, layout.config.numLayers > 0, let l0 = layout["bert.encoder.layer.0.attention.self.Wqkv.weight"] {
            let NL = layout.config.numLayers
            var starts: [Int] = []
            for l in 0..<NL { starts.append(layout.offset("bert.encoder.layer.\(l).attention.self.Wqkv.weight")) }
            let last = layout["bert.encoder.layer.\(NL - 1).mlp.layernorm.bias"]!
            let layersEnd = last.offset + last.count
            r[.embeddings] = 0..<l0.offset
            for l in 0..<NL { r[.layer(l)] = starts[l]..<(l + 1 < NL ? starts[l + 1] : layersEnd) }
            r[.head] = layersEnd..<layout.total
        } else {
            r[.head] = 0..<grad.count
        }
        regions = r
        let t = getenv("DNABERT_MPI_TIMEOUT").flatMap { Double(String(cString: $0)) } ?? 600
        timeoutSeconds = t > 0 ? t : 600
    }

    /// Forgets the previous step's state (call before the backward of the last local micro-batch).
    public func reset() {
        started.removeAll(keepingCapacity: true)
        requests.removeAll(keepingCapacity: true)
        firstStart = 0
    }

    /// The backward has written every gradient of `region`: start its allreduce.
    public func ready(_ region: Region) throws {
        guard comm.usesMPI, comm.size > 1, let range = regions[region], !started.contains(region) else { return }
        started.insert(region)
        if firstStart == 0 { firstStart = Clock.now() }
        var lo = range.lowerBound
        // MPI counts are int: long ranges go in pieces.
        while lo < range.upperBound {
            let n = min(range.upperBound - lo, 1 << 28)
            var req: UnsafeMutableRawPointer? = nil
            try comm.check(dnabert_mpi_iallreduce_float_sum(grad.baseAddress! + lo, Int64(n), &req), "gradient allreduce")
            requests.append(req)
            lo += n
        }
        try progress()
    }

    /// Lets MPI move the started allreduces along (MPI_Test on each).
    public func progress() throws {
        for i in requests.indices where requests[i] != nil {
            var done: Int32 = 0
            try comm.check(dnabert_mpi_test(&requests[i], &done), "gradient allreduce")
            if done != 0 { requests[i] = nil }
        }
    }

    /// Starts the buckets not yet started (in reverse layout order) and waits for all of them.
    public func finish() throws {
        guard comm.usesMPI, comm.size > 1 else { return }
        let order = regions.keys.sorted { regions[$0]!.lowerBound > regions[$1]!.lowerBound }
        for r in order where !started.contains(r) { try ready(r) }
        let t0 = Clock.now()
        var spins = 0
        while requests.contains(where: { $0 != nil }) {
            try progress()
            spins += 1
            if spins > 1000 { usleep(20) }
            if Clock.now() - t0 > timeoutSeconds {
                comm.abort("the gradient allreduce did not complete in \(Int(timeoutSeconds)) s (a rank died or hangs; DNABERT_MPI_TIMEOUT sets the limit)")
            }
        }
        let t1 = Clock.now()
        waitSeconds += t1 - t0
        communicationSeconds += t1 - firstStart
    }
}
